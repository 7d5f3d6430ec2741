"""The bad-data corpus synced end to end: one generated org with one defect per order, loaded into the Salesforce
sandbox and synced through Dagster (the `sync` command's run), then checked per order through the real clients:
quarantined with the expected rule on the record named, or synced exactly; the valid orders beside them always
sync; a second run writes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sf_stripe_pipeline.runner import RunSummary, run_sync
from sf_stripe_pipeline_tests.bad_data.corpus import CASES, PARTIAL, QUARANTINED, SKIPPED, SYNCED, Placed, generate
from sf_stripe_pipeline_tests.sandbox_clients import SandboxClients

NOW = "2025-03-10T12:00:00Z"


@dataclass
class CorpusRun:
    clients: SandboxClients
    placed: dict[str, Placed]
    neighbours: list[dict]
    first: RunSummary
    second: RunSummary
    stripe_ids: dict[str, str | None] = field(default_factory=dict)
    """Order Id -> its Stripe_ID__c after the first run."""
    sync_records: dict[str, dict] = field(default_factory=dict)
    """Compound_ID__c -> the Sync_Record__c."""
    stripe_orders: set[str] = field(default_factory=set)
    """Order Ids named by a Stripe schedule, subscription or invoice (metadata.salesforce_order_id)."""
    stripe_accounts: set[str] = field(default_factory=set)
    """Account Ids named by a Stripe customer."""


def _read(clients: SandboxClients) -> tuple[dict, dict, set, set]:
    sf, stripe = clients.sf, clients.stripe
    orders = sf.query_all("SELECT Id, Stripe_ID__c FROM Order", include_deleted=True)["records"]
    records = sf.query_all(
        "SELECT Compound_ID__c, Resolution_Status__c, Resolution_Message__c FROM Sync_Record__c"
    )["records"]
    named_orders = {
        obj.metadata.to_dict().get("salesforce_order_id")
        for service in (stripe.v1.subscription_schedules, stripe.v1.subscriptions, stripe.v1.invoices)
        for obj in service.list({"limit": 100}).auto_paging_iter()
    }
    accounts = {
        customer.metadata.to_dict().get("salesforce_account_id")
        for customer in stripe.v1.customers.list({"limit": 100}).auto_paging_iter()
    }
    return (
        {order["Id"]: order["Stripe_ID__c"] for order in orders},
        {record["Compound_ID__c"]: record for record in records},
        named_orders,
        accounts,
    )


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CorpusRun]:
    state_home: Path = tmp_path_factory.mktemp("bad_data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SF_STRIPE_HOME", str(state_home))
        patch.setenv("SF_STRIPE_SANDBOX_NOW", NOW)
        clients = SandboxClients.at(state_home)
        org, placed, neighbours = generate()
        clients.salesforce.replace_org(org)
        first = run_sync()
        stripe_ids, sync_records, stripe_orders, stripe_accounts = _read(clients)
        second = run_sync()
        run = CorpusRun(clients, placed, neighbours, first, second, stripe_ids, sync_records, stripe_orders,
                        stripe_accounts)
        yield run


def test_the_corpus_has_at_least_forty_distinct_cases() -> None:
    assert len(CASES) >= 40
    assert len({(case.rule, case.description) for case in CASES.values()}) == len(CASES)


def test_the_runs_succeed(corpus_run: CorpusRun) -> None:
    assert corpus_run.first.success, corpus_run.first.failure
    assert corpus_run.second.success, corpus_run.second.failure


@pytest.mark.parametrize("name", list(CASES))
def test_each_bad_order(corpus_run: CorpusRun, name: str) -> None:
    case, placed = CASES[name], corpus_run.placed[name]
    initial_id = placed.initial["Id"]
    records = corpus_run.sync_records
    if case.outcome in (QUARANTINED, PARTIAL):
        failing_id = placed.failing["Id"]
        sobject, record_id = placed.named
        record = records.get(f"{failing_id}-{record_id}")
        assert record is not None, f"no Sync_Record__c {failing_id}-{record_id}; held: {_held(records, failing_id)}"
        assert record["Resolution_Status__c"] == "Error"
        assert f"{sobject} {record_id}" in record["Resolution_Message__c"]
        assert f"[rule: {case.rule}]" in record["Resolution_Message__c"], record["Resolution_Message__c"]
        assert corpus_run.stripe_ids[failing_id] is None
    if case.outcome == QUARANTINED:
        assert initial_id not in corpus_run.stripe_orders
        if placed.account is not None:
            assert placed.account["Id"] not in corpus_run.stripe_accounts
    elif case.outcome == PARTIAL:
        assert initial_id in corpus_run.stripe_orders and corpus_run.stripe_ids[initial_id]
        assert records[f"{initial_id}-{initial_id}"]["Resolution_Status__c"] == "Success"
    elif case.outcome == SKIPPED:
        assert initial_id not in corpus_run.stripe_orders and corpus_run.stripe_ids[initial_id] is None
        assert records[f"{initial_id}-{initial_id}"]["Resolution_Status__c"] == "Skipped"
    else:
        assert case.outcome == SYNCED
        schedule_id = corpus_run.stripe_ids[initial_id]
        assert schedule_id and schedule_id.startswith("sub_sched_"), _held(records, initial_id)
        assert records[f"{initial_id}-{initial_id}"]["Resolution_Status__c"] == "Success"
        if case.check is not None:
            assert case.check(corpus_run.clients.stripe, schedule_id) == []


def test_the_valid_orders_beside_them_sync(corpus_run: CorpusRun) -> None:
    for order in corpus_run.neighbours:
        assert (corpus_run.stripe_ids[order["Id"]] or "").startswith("sub_sched_"), order["Id"]
        assert corpus_run.sync_records[f"{order['Id']}-{order['Id']}"]["Resolution_Status__c"] == "Success"


def test_a_second_run_writes_nothing(corpus_run: CorpusRun) -> None:
    assert corpus_run.first.stripe_writes and corpus_run.first.salesforce_writes
    assert (corpus_run.second.stripe_writes, corpus_run.second.salesforce_writes) == (0, 0)


def _held(records: dict[str, dict], primary: str) -> list[str]:
    return [
        f"{compound} {record['Resolution_Status__c']}: {(record['Resolution_Message__c'] or '')[:160]}"
        for compound, record in records.items()
        if compound.startswith(primary)
    ]
