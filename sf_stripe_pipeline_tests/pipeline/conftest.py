"""Fixtures for driving the whole pipeline through Dagster against the sandboxes.

"Now" is pinned to 2025-03-10 12:00 UTC (the spec's examples' today); the session config starts on 2025-01-01, and
the demo org generated "as of" that day has its orders activated over the preceding weeks.
"""

from __future__ import annotations

import os
import shutil
import uuid
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


REPO = Path(__file__).resolve().parents[2]
POSTGRES_URL_ENV = "DAGSTER_PG_URL"
"""A PostgreSQL server for the instance tests: `postgresql+psycopg2://USER@HOST:PORT/DB` (.ci/run starts one)."""


def postgres_dagster_yaml() -> str:
    """The project's dagster.yaml with its commented PostgreSQL storage block switched on, as the README says."""
    lines = (REPO / "dagster.yaml").read_text().splitlines()
    start = lines.index("# storage:")
    block = [line.removeprefix("# ") for line in lines[start:] if line.startswith("# ")]
    return "\n".join([*lines[:start], *block, ""])


@pytest.fixture
def postgres_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh database on the PostgreSQL server of `DAGSTER_PG_URL`, exported as `DAGSTER_PG_URL` for this test."""
    server_url = os.environ.get(POSTGRES_URL_ENV)
    if not server_url:
        pytest.skip(f"no PostgreSQL server: set {POSTGRES_URL_ENV} (.ci/run starts one with .ci/postgres.sh)")
    import psycopg2
    from sqlalchemy.engine import make_url

    server = make_url(server_url)
    name = f"dagster_test_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(
        host=server.host, port=server.port, user=server.username, password=server.password, dbname=server.database
    )
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    url = server.set(database=name).render_as_string(hide_password=False)
    monkeypatch.setenv(POSTGRES_URL_ENV, url)
    try:
        yield url
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(params=["sqlite", "postgres"])
def dagster_home(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A scratch `DAGSTER_HOME` holding the project's dagster.yaml (run queue, pools): its SQLite storage, or the
    commented PostgreSQL storage switched on against a fresh database."""
    path = tmp_path / "dagster_home"
    path.mkdir()
    if request.param == "postgres":
        request.getfixturevalue("postgres_url")
        (path / "dagster.yaml").write_text(postgres_dagster_yaml())
    else:
        shutil.copy(REPO / "dagster.yaml", path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(path))
    return path


@pytest.fixture
def sqlite_dagster_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`dagster_home` on SQLite only, for tests that do not depend on the storage."""
    path = tmp_path / "dagster_home"
    path.mkdir()
    shutil.copy(REPO / "dagster.yaml", path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(path))
    return path
