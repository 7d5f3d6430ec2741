"""Fixtures for driving the whole pipeline through Dagster against the sandboxes.

"Now" is pinned to 2025-03-10 12:00 UTC (the spec's examples' today); the session config starts on 2025-01-01, and
the demo org generated "as of" that day has its orders activated over the preceding weeks.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest

from sf_stripe_pipeline.runner import RunSummary, run_sync
from sf_stripe_pipeline.sandbox.demo_org import DemoCase, demo_case_index, generate_demo_org
from sf_stripe_pipeline_tests.sandbox_clients import SandboxClients

NOW = "2025-03-10T12:00:00Z"
AS_OF = date(2025, 3, 10)
DEMO_ORDERS = 30
# New renewable contracts: the demo cases the pipeline turns into one subscription schedule each.
NEW_RENEWABLE = (DemoCase.NEW, DemoCase.NEW_MULTI_LINE, DemoCase.NEW_METERED, DemoCase.NEW_DISCOUNTED, DemoCase.NEW_EUR)


@dataclass
class SyncedOrg(SandboxClients):
    """A state home holding the demo org, and what its sandboxes look like to the real clients."""

    org: dict[str, list[dict]] = field(default_factory=dict)
    cases: dict[str, DemoCase] = field(default_factory=dict)

    def orders(self, *cases: DemoCase) -> list[dict]:
        return [order for order in self.org["Order"] if self.cases.get(order["Id"]) in cases]

    def unamended_new_orders(self) -> list[dict]:
        """Initial orders of new renewable contracts that have no amendment: one subscription schedule each."""
        amended_contracts = {
            opportunity["SBQQ__AmendedContract__c"]
            for opportunity in self.org["Opportunity"]
            if opportunity["SBQQ__AmendedContract__c"]
        }
        contract_by_quote = {contract["SBQQ__Quote__c"]: contract["Id"] for contract in self.org["Contract"]}
        return [
            order
            for order in self.orders(*NEW_RENEWABLE)
            if contract_by_quote.get(order["SBQQ__Quote__c"]) not in amended_contracts
        ]



def load_demo_org(state_home: Path) -> SyncedOrg:
    synced = SyncedOrg.at(state_home)
    synced.org = generate_demo_org(DEMO_ORDERS, seed=7, as_of=AS_OF)
    synced.cases = demo_case_index(synced.org)
    synced.salesforce.replace_org(synced.org)
    return synced


@pytest.fixture(autouse=True)
def _pinned_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SF_STRIPE_SANDBOX_NOW", NOW)


@pytest.fixture
def demo_org(_isolated_state_home: Path) -> SyncedOrg:
    """The demo org in this test's fresh state home, nothing synced yet."""
    return load_demo_org(_isolated_state_home)


@pytest.fixture(scope="module")
def synced_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SyncedOrg, RunSummary]]:
    """The demo org after one full sync (every partition from the config's start date to today), shared by a module."""
    state_home = tmp_path_factory.mktemp("synced_demo")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SF_STRIPE_HOME", str(state_home))
        patch.setenv("SF_STRIPE_SANDBOX_NOW", NOW)
        synced = load_demo_org(state_home)
        summary = run_sync()
    assert summary.success, summary.failure
    yield synced, summary
