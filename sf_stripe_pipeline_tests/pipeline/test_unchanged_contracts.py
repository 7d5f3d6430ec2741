"""A sync reads Stripe in proportion to what changed (issue 9): the objects of contracts that are as they were when
last wholly in sync are not read; a change in Salesforce has its contracts read and written; an edit made by hand in
Stripe to an unchanged contract is left to the drift check, after which the next sync reads and corrects it.

Everything goes through the real clients against the sandboxes; the sync through `run_sync`, as the CLI runs it."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import duckdb

from sf_stripe_pipeline import home, warehouse
from sf_stripe_pipeline.apply import forget_contracts_in_flight
from sf_stripe_pipeline.core.desired import DesiredObject
from sf_stripe_pipeline.core.plan import planned_operation
from sf_stripe_pipeline.definitions import defs
from sf_stripe_pipeline.defs.stripe.resources import StripeResource
from sf_stripe_pipeline.defs.stripe.schedules import drift_run_config
from sf_stripe_pipeline.runner import run_sync
from sf_stripe_pipeline.stripe.lookup import SYNC_KEY
from sf_stripe_pipeline.warehouse import ledger

from .conftest import SyncedOrg


def _stripe_reads(synced: SyncedOrg, since: int) -> list[str]:
    return [entry.path for entry in synced.stripe_sandbox.request_log()[since:] if entry.method == "GET"]


def _objects_by_state() -> dict[str, int]:
    with duckdb.connect(str(home.warehouse_path()), read_only=True) as conn:
        return dict(conn.execute("SELECT state, count(*) FROM sync.stripe_objects GROUP BY state").fetchall())


def _sync(synced: SyncedOrg) -> tuple[list[str], int]:
    """(the Stripe paths the sync read, its Stripe writes)."""
    before = len(synced.stripe_sandbox.request_log())
    summary = run_sync()
    assert summary.success and summary.exit_code == 0, summary.failure
    return _stripe_reads(synced, before), summary.stripe_writes


def test_unchanged_contracts_are_not_read_and_changed_ones_are(demo_org: SyncedOrg) -> None:
    first = run_sync()
    assert first.success and first.stripe_writes > 0
    # The first sync created the coupon snapshots in Salesforce that the coupons name (F43) and wrote every Stripe
    # id back: the second sync drafts the coupons naming their snapshots, which the first sync digested as such.
    reads, writes = _sync(demo_org)
    assert (reads, writes) == ([], 0), "the first sync's own Salesforce writes change nothing to read"

    reads, writes = _sync(demo_org)
    assert (reads, writes) == ([], 0), "nothing changed since every contract was synced"
    states = _objects_by_state()
    assert set(states) == {"unchanged"} and states["unchanged"] > 30

    # A change in Salesforce: the account's contracts are read (and only theirs), its customer updated.
    client = demo_org.stripe
    customer = next(c for c in client.v1.customers.list({"limit": 100}).auto_paging_iter() if SYNC_KEY in c.metadata)
    account_id = customer.metadata[SYNC_KEY].split(":", 1)[1]
    demo_org.sf.Account.update(account_id, {"Name": "Renamed in Salesforce"})
    reads, writes = _sync(demo_org)
    assert client.v1.customers.retrieve(customer.id).name == "Renamed in Salesforce"
    assert writes == 1
    assert f"/v1/customers/{customer.id}" in reads
    states = _objects_by_state()
    assert 0 < len(reads) < states["unchanged"], "the other contracts stay unread"

    reads, writes = _sync(demo_org)
    assert (reads, writes) == ([], 0)


def test_a_hand_edit_in_stripe_waits_for_the_drift_check_then_the_next_sync_corrects_it(demo_org: SyncedOrg) -> None:
    assert run_sync().success and run_sync().success
    client = demo_org.stripe
    customer = next(c for c in client.v1.customers.list({"limit": 100}).auto_paging_iter() if SYNC_KEY in c.metadata)
    client.v1.customers.update(customer.id, {"name": "Edited by hand in the Dashboard"})

    reads, writes = _sync(demo_org)
    assert (reads, writes) == ([], 0), "Salesforce did not change: the sync trusts its last sync"
    assert client.v1.customers.retrieve(customer.id).name == "Edited by hand in the Dashboard"

    check = defs().resolve_job_def("stripe_drift_job").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), run_config=drift_run_config(False)
    )
    assert check.success
    reads, writes = _sync(demo_org)
    assert f"/v1/customers/{customer.id}" in reads
    assert writes == 1
    assert client.v1.customers.retrieve(customer.id).name != "Edited by hand in the Dashboard"
    assert _sync(demo_org) == ([], 0)


def test_contracts_about_to_change_lose_their_digest_before_any_write(tmp_path) -> None:
    """A run that dies between a Stripe write and the end of apply must not leave the contract trusted: were
    Salesforce put back as it was, the next sync would otherwise skip an object Stripe now holds differently."""
    conn = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    warehouse.prepare(conn)
    objects = [
        DesiredObject("customer", "acct", "Account", "acct", {"name": "Acme"}, None, ("c1", "c2"), ()),
        DesiredObject("subscription_schedule", "c1", "Order", "c1", {}, None, ("c1",), ()),
        DesiredObject("subscription_schedule", "c2", "Order", "c2", {}, None, ("c2",), ()),
    ]
    now = datetime.now(UTC)
    ledger.record(conn, [
        {"stripe_object": obj.stripe_object, "key": obj.key, "stripe_id": f"id_{obj.key}", "sf_object": obj.sf_object,
         "sf_id": obj.sf_id, "payload_hash": None, "run_id": "r1", "updated_at": now}
        for obj in objects
    ])  # fmt: skip
    ledger.set_synced_digests(conn, {obj.address: "digest-as-last-synced" for obj in objects})
    update = planned_operation(objects[2], "update", "id_c2", {"end_behavior": "cancel"})

    forget_contracts_in_flight(conn, objects, [update])

    digests = {address: entry.synced_digest for address, entry in ledger.entries(conn).items()}
    assert digests == {
        "customer:acct": None,  # shared with c2
        "subscription_schedule:c1": "digest-as-last-synced",
        "subscription_schedule:c2": None,
    }


def test_a_manual_sync_compares_its_contracts_with_stripe_whatever_their_last_sync(demo_org: SyncedOrg) -> None:
    assert run_sync().success and run_sync().success
    order = demo_org.unamended_new_orders()[0]
    customer_id = demo_org.stripe_id("Account", order["AccountId"])
    client = demo_org.stripe
    client.v1.customers.update(customer_id, {"name": "Edited by hand in the Dashboard"})
    before = len(demo_org.stripe_sandbox.request_log())

    summary = run_sync(order_ids=[order["Id"]])

    assert summary.success and summary.stripe_writes == 1
    assert f"/v1/customers/{customer_id}" in _stripe_reads(demo_org, before)
    assert client.v1.customers.retrieve(customer_id).name != "Edited by hand in the Dashboard"


def test_the_stripe_target_in_the_digest_names_the_account_kind_never_the_key() -> None:
    """Pointed at another Stripe (the sandbox, then a real account) with the same warehouse, no contract is trusted:
    the digest includes the target. The target holds no secret (it lands in DuckDB with the digests' inputs)."""
    key = "sk_live_" + "secretpart" * 3
    live = StripeResource(api_key=key)
    assert live.target == "sk_live@https://api.stripe.com" and "secretpart" not in live.target
    assert StripeResource().target.startswith("sandbox:")
    restricted = StripeResource(api_key="rk_test_abc", api_base="http://localhost:12111")
    assert restricted.target == "rk_test@http://localhost:12111"


def _validation_rows() -> dict[str, tuple]:
    """Contract key -> what the latest validation holds for it (its run aside)."""
    with duckdb.connect(str(home.warehouse_path()), read_only=True) as conn:
        rows = conn.execute(
            "SELECT contract_key, status, violations, synced_order_ids, failing_order_id, skipped, objects, "
            "coupon_links, input_digest FROM sync.contract_validation"
        ).fetchall()
    return {row[0]: row[1:] for row in rows}


def _contracts_with_coupon_snapshots_made_by_the_sync(synced: SyncedOrg) -> set[str]:
    soql = "SELECT Order__c, Order_Item__c FROM Order_Stripe_Coupon__c WHERE Snapshot_Key__c != null"
    snapshots = synced.sf.query_all(soql)["records"]
    lines = {line["Id"]: line["OrderId"] for line in synced.sf.query_all("SELECT Id, OrderId FROM OrderItem")["records"]}
    orders = {snapshot["Order__c"] or lines[snapshot["Order_Item__c"]] for snapshot in snapshots}
    with duckdb.connect(str(home.warehouse_path()), read_only=True) as conn:
        contracts = conn.execute("SELECT contract_key, order_ids FROM sync.contract_validation").fetchall()
    return {key for key, order_ids in contracts if orders.intersection(order_ids)}


def test_only_contracts_whose_salesforce_records_changed_are_assessed_again(demo_org: SyncedOrg) -> None:
    """Validation and drafting run once per change of a contract's records, not once per sync; what a kept
    assessment says is what assessing the contract afresh says."""
    first, second = run_sync(), run_sync()
    assert first.success and second.success and first.contracts_assessed > 20
    # The first sync's own Salesforce writes (Stripe ids written back, order coupon snapshots created, F43) were
    # extracted and validated again by that sync: the second finds the org as the first left it.
    assert _contracts_with_coupon_snapshots_made_by_the_sync(demo_org)
    assert second.contracts_assessed == 0 and second.validation_kept_whole
    assert (first.org_read, second.org_read) == ("whole", "not read")
    quiet = run_sync()
    kept = _validation_rows()
    assert quiet.success and quiet.contracts_assessed == 0 and quiet.validation_kept_whole and len(kept) > 20

    order = demo_org.unamended_new_orders()[0]
    line = demo_org.sf.query(f"SELECT Id, Quantity FROM OrderItem WHERE OrderId = '{order['Id']}'")["records"][0]
    demo_org.sf.OrderItem.update(line["Id"], {"Quantity": int(line["Quantity"]) + 1})
    changed = run_sync()
    assert changed.success and changed.contracts_assessed == 1 and changed.stripe_writes >= 1
    assert not changed.validation_kept_whole
    after_change = _validation_rows()
    assert {key for key in kept if after_change[key] != kept[key]} == {order["Id"]}

    # A manual sync of another order assesses it afresh, and leaves every other contract's assessment stored.
    other = demo_org.unamended_new_orders()[1]
    assert run_sync(order_ids=[other["Id"]]).contracts_assessed == 1
    after_manual = run_sync()
    assert after_manual.contracts_assessed == 0 and not after_manual.validation_kept_whole
    assert _validation_rows() == after_change

    with duckdb.connect(str(home.warehouse_path())) as conn:
        conn.execute("UPDATE sync.contract_assessments SET input_digest = NULL")  # forget every stored input
    fresh = run_sync()
    assert fresh.success and fresh.contracts_assessed == len(kept) and fresh.stripe_writes == 0
    assert not fresh.validation_kept_whole, "a validation stands whole only with every assessment's stored inputs"
    assert _validation_rows() == after_change
