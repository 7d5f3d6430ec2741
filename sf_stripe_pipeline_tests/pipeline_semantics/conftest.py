"""Small hand-built orgs synced end to end through Dagster against the sandboxes, checked through the real clients.

"Now" is pinned to 2025-03-10 12:00 UTC (the spec's today). Each test gets its own state home; the org is loaded
into the Salesforce sandbox, later changes go through simple-salesforce, and Stripe is read with the stripe SDK.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sf_stripe_pipeline.runner import RunSummary, run_sync
from sf_stripe_pipeline_tests.sandbox_clients import SandboxClients

NOW = "2025-03-10T12:00:00Z"


class Pipeline(SandboxClients):
    def load(self, org: dict[str, list[dict]]) -> None:
        self.salesforce.replace_org(org)

    def sync(self) -> RunSummary:
        summary = run_sync()
        assert summary.success, summary.failure
        return summary


@pytest.fixture
def pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Pipeline:
    monkeypatch.setenv("SF_STRIPE_HOME", str(tmp_path))
    monkeypatch.setenv("SF_STRIPE_SANDBOX_NOW", NOW)
    return Pipeline.at(tmp_path)
