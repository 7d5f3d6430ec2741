"""Reliability tests: syncs of a generated org interrupted or faulted at many points, then re-run until settled, and
compared with an uninterrupted sync of the same org (issues 10, 11, 12).

Every run goes through the real pipeline (`runner.run_sync`, the Dagster job) against the sandboxes, with faults
from the sandboxes' environment variables, as an operator's `sf-stripe-pipeline sync` would meet them. The sync
config is the session's with a short Stripe retry budget, so a faulted run ends in seconds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from sf_stripe_pipeline import home
from sf_stripe_pipeline.runner import RunSummary, run_sync
from sf_stripe_pipeline.sandbox.demo_org import generate_demo_org
from sf_stripe_pipeline.sandbox.salesforce import FAULTS_ENV_VAR as SALESFORCE_FAULTS
from sf_stripe_pipeline.sandbox.stripe import FAULTS_ENV_VAR as STRIPE_FAULTS
from sf_stripe_pipeline.sandbox.stripe import StripeSandbox
from sf_stripe_pipeline_tests.conftest import TEST_CONFIG
from sf_stripe_pipeline_tests.reliability.state import SyncState, sync_state
from sf_stripe_pipeline_tests.sandbox_clients import SandboxClients

NOW = "2025-03-10T12:00:00Z"
AS_OF = date(2025, 3, 10)
ORDERS = 40
SEED = 11
MAX_SETTLE_RUNS = 4
RELIABILITY_STRIPE = {"requests_per_second": 500, "retry_budget_seconds": 1, "max_attempts": 3}
"""The sandbox enforces no rate unless a test asks it to; pacing at test mode's 25/s would only slow these runs."""


@pytest.fixture(scope="session")
def reliability_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's sync config with a short Stripe retry budget (same start date: the partitions are fixed)."""
    path = tmp_path_factory.mktemp("reliability_config") / "sync.yaml"
    config = yaml.safe_load(TEST_CONFIG.read_text(encoding="utf-8"))
    config["stripe"] = {**config.get("stripe", {}), **RELIABILITY_STRIPE}
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


@contextmanager
def patched_environment(values: Mapping[str, str | None]) -> Iterator[None]:
    """The environment with `values` set (None: unset), restored afterwards."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in values.items():
            if value is None:
                patch.delenv(name, raising=False)
            else:
                patch.setenv(name, value)
        yield


@dataclass
class Harness(SandboxClients):
    """A state home holding the generated org, and the way to run syncs on it as an operator would."""

    config: Path | None = None
    now: str = NOW

    def environment(
        self, stripe_faults: Mapping[str, Any] | None = None, salesforce_faults: Mapping[str, Any] | None = None
    ) -> dict[str, str | None]:
        return {
            "SF_STRIPE_HOME": str(self.home),
            "SF_STRIPE_CONFIG": str(self.config),
            "SF_STRIPE_SANDBOX_NOW": self.now,
            STRIPE_FAULTS: json.dumps(stripe_faults) if stripe_faults else None,
            SALESFORCE_FAULTS: json.dumps(salesforce_faults) if salesforce_faults else None,
        }

    def sync(
        self, stripe_faults: Mapping[str, Any] | None = None, salesforce_faults: Mapping[str, Any] | None = None
    ) -> RunSummary:
        """One `sync` of every partition. A Stripe `fail_after_writes` counts from this run's first write."""
        StripeSandbox(home.stripe_sandbox_dir(self.home)).configure_faults(None)  # restarts the count
        with patched_environment(self.environment(stripe_faults, salesforce_faults)):
            return run_sync()

    def settle(self) -> list[RunSummary]:
        """Clean syncs until one writes nothing to Stripe or Salesforce (at most MAX_SETTLE_RUNS)."""
        runs = []
        for _ in range(MAX_SETTLE_RUNS):
            runs.append(self.sync())
            if runs[-1].stripe_writes == 0 and runs[-1].salesforce_writes == 0:
                return runs
        raise AssertionError(f"not settled after {MAX_SETTLE_RUNS} clean runs: {[r.stripe_operations for r in runs]}")

    def state(self) -> SyncState:
        with patched_environment({"SF_STRIPE_SANDBOX_NOW": self.now}):
            return sync_state(self.stripe, self.sf)

    def stripe_write_count(self) -> int:
        return sum(1 for entry in self.stripe_sandbox.request_log() if entry.is_write and entry.status < 400)


def make_harness(state_home: Path, config: Path, as_of: date = AS_OF) -> Harness:
    """The generated org (ORDERS orders, SEED, as of `as_of`) in `state_home`'s Salesforce sandbox; Stripe empty."""
    base = SandboxClients.at(state_home)
    harness = Harness(base.home, base.salesforce, base.stripe_sandbox, config=config)
    harness.salesforce.replace_org(generate_demo_org(ORDERS, seed=SEED, as_of=as_of))
    return harness


@pytest.fixture
def harness(_isolated_state_home: Path, reliability_config: Path) -> Harness:
    return make_harness(_isolated_state_home, reliability_config)


@dataclass
class CleanRun:
    harness: Harness
    state: SyncState
    stripe_writes: int


@pytest.fixture(scope="session")
def clean_run(tmp_path_factory: pytest.TempPathFactory, reliability_config: Path) -> CleanRun:
    """One uninterrupted sync of the org: its sandboxes, its end state and how many Stripe writes it made."""
    harness = make_harness(tmp_path_factory.mktemp("clean_run"), reliability_config)
    summary = harness.sync()
    assert summary.success, summary.failure
    state = harness.state()
    assert not state.duplicates and state.stripe, "the clean run made each object once"
    return CleanRun(harness, state, harness.stripe_write_count())
