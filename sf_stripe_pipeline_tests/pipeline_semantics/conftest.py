"""Small hand-built orgs synced end to end through Dagster against the sandboxes, checked through the real clients.

"Now" is pinned to 2025-03-10 12:00 UTC (the spec's today). Each test gets its own state home; the org is loaded
into the Salesforce sandbox, later changes go through simple-salesforce, and Stripe is read with the stripe SDK.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import stripe
from simple_salesforce import Salesforce

from sf_stripe_pipeline import home
from sf_stripe_pipeline.runner import RunSummary, run_sync
from sf_stripe_pipeline.sandbox.salesforce import SalesforceSandbox
from sf_stripe_pipeline.sandbox.stripe import StripeSandbox

NOW = "2025-03-10T12:00:00Z"


@dataclass
class Pipeline:
    home: Path
    salesforce: SalesforceSandbox
    stripe_sandbox: StripeSandbox

    @property
    def sf(self) -> Salesforce:
        return self.salesforce.client()

    @property
    def stripe(self) -> stripe.StripeClient:
        return self.stripe_sandbox.client()

    def load(self, org: dict[str, list[dict]]) -> None:
        self.salesforce.replace_org(org)

    def sync(self) -> RunSummary:
        summary = run_sync()
        assert summary.success, summary.failure
        return summary

    def stripe_id(self, sobject: str, record_id: str) -> str | None:
        return self.sf.query(f"SELECT Stripe_ID__c FROM {sobject} WHERE Id = '{record_id}'")["records"][0][
            "Stripe_ID__c"
        ]

    def sync_record(self, primary: str, secondary: str) -> dict:
        [record] = self.sf.query(
            "SELECT Resolution_Status__c, Resolution_Message__c FROM Sync_Record__c "
            f"WHERE Compound_ID__c = '{primary}-{secondary}'"
        )["records"]
        return record


@pytest.fixture
def pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Pipeline:
    monkeypatch.setenv("SF_STRIPE_HOME", str(tmp_path))
    monkeypatch.setenv("SF_STRIPE_SANDBOX_NOW", NOW)
    stripe_sandbox = StripeSandbox(home.stripe_sandbox_dir(tmp_path))
    stripe_sandbox.reset()
    return Pipeline(tmp_path, SalesforceSandbox(home.salesforce_sandbox_dir(tmp_path)), stripe_sandbox)
