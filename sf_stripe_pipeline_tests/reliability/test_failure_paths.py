"""Failure paths that used to leave contracts stuck or lose the audit trail (issue 12.1, 12.2, 12.4), each reproduced
through the pipeline against the sandboxes and then settled: the end state equals an uninterrupted sync's."""

from __future__ import annotations

from pathlib import Path

import duckdb
import yaml

from sf_stripe_pipeline import home
from sf_stripe_pipeline.apply import WarehouseJournal
from sf_stripe_pipeline.core import PlannedOperation
from sf_stripe_pipeline.core.plan import AUTO_ARCHIVE_KEY, idempotency_key, payload_hash
from sf_stripe_pipeline.runner import run_sync
from sf_stripe_pipeline.stripe.lookup import SYNC_KEY, with_sync_key
from sf_stripe_pipeline.stripe.writes import SUCCESS, execute_plan
from sf_stripe_pipeline.warehouse import plan
from sf_stripe_pipeline_tests.reliability.conftest import CleanRun, Harness, patched_environment


def _warehouse_rows(harness: Harness, sql: str) -> list[tuple]:
    conn = duckdb.connect(str(home.warehouse_path(harness.home)), read_only=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _planned_creates(harness: Harness, stripe_object: str) -> list[PlannedOperation]:
    """The creates of `stripe_object` a dry run plans, by key."""
    with patched_environment(harness.environment()):
        assert run_sync(dry_run=True).success
    conn = duckdb.connect(str(home.warehouse_path(harness.home)))
    try:
        operations = plan.load_operations(conn)
    finally:
        conn.close()
    creates = [op for op in operations if op.operation == "create" and op.stripe_object == stripe_object]
    return sorted(creates, key=lambda op: op.key)


def _key_sent_for(op: PlannedOperation) -> str:
    """The idempotency key the apply step sends a create with (these parameters hold no references)."""
    sent = with_sync_key(op.params, op.stripe_object, op.key)
    return idempotency_key(op.stripe_object, op.key, "create", None, payload_hash(op.stripe_object, "create", sent))


def test_a_key_reused_with_other_parameters_ends_adopted_or_sent_afresh(harness: Harness, clean_run: CleanRun) -> None:
    """12.1: the key of a create was already used with other parameters (an earlier run's request, made from older
    data), so Stripe answers `idempotency_error`. If what that request made carries the object's sync key it is
    adopted, and corrected by the next run; if not, the create is sent again with a new key. The read before
    planning adopts such an object before any create is sent. No order is left stuck."""
    first, second, *_ = _planned_creates(harness, "customer")
    product, *_ = _planned_creates(harness, "product")
    earlier = [
        harness.stripe.v1.customers.create(
            params={**with_sync_key(op.params, "customer", op.key), "name": "Name before the crash"},
            options={"idempotency_key": _key_sent_for(op)},
        )
        for op in (first, second)
    ]
    foreign = harness.stripe.v1.products.create(
        params={"name": "Someone else's product"}, options={"idempotency_key": _key_sent_for(product)}
    )

    conn = duckdb.connect(str(home.warehouse_path(harness.home)))
    try:  # the apply step's executor on its own, as if the read had missed the earlier customer
        journal = WarehouseJournal(conn, run_id="conflict", partition="test")
        adopted, sent_afresh = execute_plan(harness.stripe, [first, product], {}, journal=journal).outcomes
    finally:
        conn.close()
    assert (adopted.status, adopted.stripe_id, adopted.adopted) == (SUCCESS, earlier[0].id, True)
    assert sent_afresh.status == SUCCESS and sent_afresh.idempotency_key == _key_sent_for(product) + "-g1"
    assert harness.stripe.v1.products.retrieve(sent_afresh.stripe_id).metadata[SYNC_KEY] == f"product:{product.key}"

    summary = harness.sync()  # the second customer is found by the read, by its sync key: never created again
    assert summary.success, summary.failure
    assert harness.stripe_id("Account", second.key) == earlier[1].id
    assert harness.stripe_id("Product2", product.key) == sent_afresh.stripe_id
    harness.settle()
    assert all(harness.stripe.v1.customers.retrieve(c.id).name != "Name before the crash" for c in earlier)
    assert harness.stripe.v1.products.retrieve(foreign.id).name == "Someone else's product", "left alone"
    state = harness.state()
    del state.stripe[f"product without sync key {foreign.name}"]
    assert state.differences(clean_run.state) == []


def _line_prices(harness: Harness) -> list:
    prices = harness.stripe.v1.prices.list({"limit": 100}).auto_paging_iter()
    return [price for price in prices if price.metadata.to_dict().get(AUTO_ARCHIVE_KEY) == "true"]


def test_failed_schedules_keep_their_line_prices_active_and_an_archived_one_is_recovered(
    harness: Harness, clean_run: CleanRun
) -> None:
    """12.2: every schedule create fails; the prices made for those schedules' lines stay active (archiving waits
    for what uses the price). A line price archived anyway (by an earlier version, or by hand) is reactivated for
    the schedule that needs it and archived again once the schedule is saved."""
    failing_schedules = {"fail_after_writes": 0, "only_paths": ["/v1/subscription_schedules"]}
    summary = harness.sync(stripe_faults=failing_schedules)
    assert summary.stripe_operations.get("create subscription_schedule (success)") is None
    assert summary.stripe_operations.get("create price (success)"), "the line prices were made"
    line_prices = _line_prices(harness)
    assert line_prices and all(price.active for price in line_prices)

    archived_by_hand = line_prices[0]
    harness.stripe.v1.prices.update(archived_by_hand.id, params={"active": False})
    harness.settle()
    assert harness.state().differences(clean_run.state) == []
    reactivations = [
        entry
        for entry in harness.stripe_sandbox.request_log()
        if entry.path == f"/v1/prices/{archived_by_hand.id}" and entry.params.get("active") == "true"
    ]
    assert len(reactivations) == 1 and not harness.stripe.v1.prices.retrieve(archived_by_hand.id).active


def test_a_write_back_failure_loses_no_stripe_write(harness: Harness, clean_run: CleanRun) -> None:
    """12.4: Salesforce answers 500 to every write after the coupon snapshots, once the Stripe writes are done.
    Every Stripe write is already in `sync.sync_records` and the ledger; the next run writes the ids back without
    writing to Stripe again."""
    summary = harness.sync(salesforce_faults={"fail_after_writes": 1})
    created = {
        entry.params.get("metadata", {}).get(SYNC_KEY)
        for entry in harness.stripe_sandbox.request_log()
        if entry.method == "POST" and entry.status == 200 and entry.path.count("/") == 2
    }
    assert summary.stripe_writes and len(created) > 50
    audited = {
        f"{stripe_object}:{key}"
        for stripe_object, key in _warehouse_rows(
            harness,
            "SELECT r.stripe_object, l.key FROM sync.sync_records r JOIN sync.stripe_ledger l "
            "ON l.stripe_id = r.stripe_id AND l.stripe_object = r.stripe_object "
            "WHERE r.operation = 'create' AND r.status = 'success'",
        )
    }
    assert created == audited, "every create is in the audit trail and the ledger"
    assert _warehouse_rows(harness, "SELECT count(*) FROM sync.sync_records WHERE operation = 'write_back' AND "
                                    "status = 'error'")[0][0] > 0
    assert not any(harness.state().write_backs), "no Stripe id reached Salesforce"

    after = harness.sync()
    assert after.stripe_writes == 0 and after.salesforce_writes
    harness.settle()
    assert harness.state().differences(clean_run.state) == []


def test_rate_limited_and_failing_stripe_still_syncs_everything_once(
    harness: Harness, clean_run: CleanRun, tmp_path: Path
) -> None:
    """10.3: Stripe enforces test mode's 25 requests a second and also answers 429 to 30 % and 500 to 5 % of
    requests. With the client paced at its default rate and retrying, every operation succeeds, none twice."""
    config = yaml.safe_load(Path(harness.config).read_text(encoding="utf-8"))
    config["stripe"] = {"retry_budget_seconds": 60, "max_attempts": 8}  # the key mode's rate: 25/s
    harness.config = tmp_path / "sync.yaml"
    harness.config.write_text(yaml.safe_dump(config), encoding="utf-8")
    faults = {"requests_per_second": 25, "rate_limit_error_rate": 0.3, "error_rate": 0.05, "seed": 5}
    unfinished = ["first run"]
    for _ in range(3):  # a request failing eight times in a row (about 1 in 10,000) is retried by the next run
        summary = harness.sync(stripe_faults=faults)
        assert summary.success and not any("rejected" in name for name in summary.stripe_operations)
        unfinished = [name for name in summary.stripe_operations if "(success)" not in name]
        if not unfinished:
            break
    assert not unfinished
    answers = [entry.status for entry in harness.stripe_sandbox.request_log()]
    assert answers.count(429) > 10 and answers.count(500) > 0, "the faults fired and were retried"
    assert harness.state().differences(clean_run.state) == []
