"""The drift check (`stripe/stripe_drift`, `stripe_drift_job`): after a sync, objects edited by hand in Stripe are
reported with their Salesforce record and contracts, nothing else is, and with `requeue: true` the re-queue sensor
asks for a manual sync of their contracts that puts Stripe back.

Stripe is edited and read only through stripe-python against the sandbox; the check runs through Dagster."""

from __future__ import annotations

import dagster as dg
import duckdb
import pytest

from sf_stripe_pipeline import home
from sf_stripe_pipeline.core.config import ConfigError, DriftConfig, parse_config
from sf_stripe_pipeline.definitions import defs
from sf_stripe_pipeline.defs.stripe.assets import STRIPE_DRIFT
from sf_stripe_pipeline.defs.stripe.schedules import drift_run_config
from sf_stripe_pipeline.defs.stripe.sensors import REQUEUED_BY_TAG, requeue_drifted_contracts
from sf_stripe_pipeline.runner import run_sync
from sf_stripe_pipeline.stripe.lookup import SYNC_KEY

from .conftest import SyncedOrg

PRICEBOOK_ENTRY = "salesforce_pricebook_entry_id"


def _check_drift(instance: dg.DagsterInstance, *, requeue: bool = False) -> tuple[dg.ExecuteInProcessResult, dict]:
    result = defs().resolve_job_def("stripe_drift_job").execute_in_process(
        instance=instance, run_config=drift_run_config(requeue)
    )
    assert result.success
    [materialization] = result.asset_materializations_for_node(STRIPE_DRIFT.to_python_identifier())
    return result, materialization.metadata


def _requeue_sensor(check: dg.ExecuteInProcessResult, instance: dg.DagsterInstance):
    """What the re-queue sensor answers to the check run's success."""
    return requeue_drifted_contracts(
        dg.build_run_status_sensor_context(
            sensor_name=requeue_drifted_contracts.name,
            dagster_event=check.get_run_success_event(),
            dagster_instance=instance,
            dagster_run=check.dagster_run,
        )
    )


def _drift_rows() -> list[dict]:
    with duckdb.connect(str(home.warehouse_path()), read_only=True) as conn:
        cursor = conn.execute("SELECT * FROM sync.stripe_drift ORDER BY stripe_object")
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]


def _contracts_billing(synced: SyncedOrg, *, customer: str | None = None, price: str | None = None) -> set[str]:
    """The contracts (initial Order Ids) of the orders named on the schedules, subscriptions and invoices (Stripe's
    own view) of a customer, or whose phases or items bill a price; a schedule names its latest amendment, mapped to
    its contract by the sync's validation table."""
    client = synced.stripe
    orders = set()
    for schedule in client.v1.subscription_schedules.list({"limit": 100}).auto_paging_iter():
        prices = {item["price"] for phase in schedule.to_dict()["phases"] for item in phase["items"]}
        if schedule.customer == customer or price in prices:
            orders.add(schedule.metadata["salesforce_order_id"])
    for subscription in client.v1.subscriptions.list({"limit": 100, "status": "all"}).auto_paging_iter():
        prices = {item["price"]["id"] for item in subscription.to_dict()["items"]["data"]}
        if subscription.customer == customer or price in prices:
            orders.add(subscription.metadata["salesforce_order_id"])
    for invoice in client.v1.invoices.list({"limit": 100}).auto_paging_iter():
        if invoice.customer == customer:
            orders.add(invoice.metadata["salesforce_order_id"])
    with duckdb.connect(str(home.warehouse_path()), read_only=True) as conn:
        contracts = conn.execute("SELECT contract_key, order_ids FROM sync.contract_validation").fetchall()
    return {key for key, order_ids in contracts if orders & set(order_ids)}


@pytest.fixture
def synced(demo_org: SyncedOrg) -> SyncedOrg:
    summary = run_sync()
    assert summary.success, summary.failure
    return demo_org


def test_with_no_edits_in_stripe_nothing_has_drifted(synced: SyncedOrg) -> None:
    _, metadata = _check_drift(dg.DagsterInstance.ephemeral())

    assert metadata["drifted_objects"].value == 0
    assert metadata["dagster/row_count"].value == 0
    assert _drift_rows() == []
    assert metadata["owned_objects_compared"].value > 20, "the synced customers, products, prices and schedules"
    listed = metadata["objects_listed"].value
    assert listed["subscription_schedule"] >= 5 and listed["customer"] >= 1
    assert metadata["requeue_order_ids"].value == []


def test_a_renamed_customer_and_an_archived_price_are_reported_with_their_contracts_and_requeued(
    synced: SyncedOrg,
) -> None:
    client = synced.stripe
    # The customer and the price book price billed by the most contracts, ties by id: the same objects every run.
    customer = max(
        client.v1.customers.list({"limit": 100}).auto_paging_iter(),
        key=lambda c: (len(_contracts_billing(synced, customer=c.id)), c.id),
    )
    price = max(
        (p for p in client.v1.prices.list({"limit": 100, "active": True}).auto_paging_iter()
         if PRICEBOOK_ENTRY in p.metadata),
        key=lambda p: (len(_contracts_billing(synced, price=p.id)), p.id),
    )
    assert len(_contracts_billing(synced, customer=customer.id)) > 1
    assert _contracts_billing(synced, price=price.id)
    original_name = customer.name
    client.v1.customers.update(customer.id, {"name": "Renamed by hand in the Dashboard"})
    client.v1.prices.update(price.id, {"active": False})
    instance = dg.DagsterInstance.ephemeral()

    check, metadata = _check_drift(instance, requeue=True)

    rows = {row["stripe_id"]: row for row in _drift_rows()}
    assert set(rows) == {customer.id, price.id}
    renamed, archived = rows[customer.id], rows[price.id]
    assert (renamed["stripe_object"], renamed["kind"], renamed["fields"]) == ("customer", "changed", ["name"])
    assert renamed["sf_object"] == "Account" and renamed["key"] == customer.metadata[SYNC_KEY].split(":", 1)[1]
    assert set(renamed["contract_keys"]) == _contracts_billing(synced, customer=customer.id)
    assert (archived["stripe_object"], archived["kind"], archived["fields"]) == ("price", "archived", ["active"])
    assert (archived["sf_object"], archived["sf_id"]) == ("PricebookEntry", price.metadata[PRICEBOOK_ENTRY])
    assert set(archived["contract_keys"]) == _contracts_billing(synced, price=price.id)
    assert metadata["drifted_objects"].value == 2
    assert metadata["drifted_by_kind"].value == {"changed": 1, "archived": 1}
    assert {record.data["stripe_id"] for record in metadata["drifted"].records} == {customer.id, price.id}
    requeue = metadata["requeue_order_ids"].value
    assert set(requeue) & set(renamed["contract_keys"]) and set(requeue) & set(archived["contract_keys"])
    assert len(requeue) <= 2

    # The sensor turns the check's success into one manual sync of those orders; running it restores Stripe.
    request = _requeue_sensor(check, instance)
    assert isinstance(request, dg.RunRequest)
    assert request.run_config == {"order_ids": requeue}
    assert request.tags[REQUEUED_BY_TAG] == check.run_id
    resync = defs().resolve_job_def("manual_sync_job").execute_in_process(
        instance=instance, run_config=request.run_config, tags=request.tags
    )
    assert resync.success
    assert client.v1.customers.retrieve(customer.id).name == original_name
    assert client.v1.prices.retrieve(price.id).active is True
    _, after = _check_drift(instance)
    assert after["drifted_objects"].value == 0 and _drift_rows() == []


def test_a_check_without_requeue_requests_no_sync(synced: SyncedOrg) -> None:
    client = synced.stripe
    customer = next(iter(client.v1.customers.list({"limit": 1}).data))
    client.v1.customers.update(customer.id, {"name": "Renamed by hand"})
    instance = dg.DagsterInstance.ephemeral()

    check, metadata = _check_drift(instance, requeue=False)

    assert metadata["drifted_objects"].value == 1 and metadata["requeue_order_ids"].value
    skipped = _requeue_sensor(check, instance)
    assert isinstance(skipped, dg.SkipReason) and "requeue: false" in skipped.skip_message


def test_the_drift_check_is_not_part_of_the_sync_jobs_and_its_schedule_is_off_by_default() -> None:
    definitions = defs()
    for job_name in ("sync_job", "plan_job", "manual_sync_job"):
        assert STRIPE_DRIFT not in definitions.resolve_job_def(job_name).asset_layer.executable_asset_keys
    assert definitions.resolve_job_def("stripe_drift_job").asset_layer.executable_asset_keys == {STRIPE_DRIFT}
    schedule = definitions.resolve_schedule_def("stripe_drift_schedule")
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    assert schedule.cron_schedule == "0 4 * * *"


def test_a_coupon_deleted_in_stripe_is_reported_deleted_with_the_schedule_that_would_name_its_replacement(
    synced: SyncedOrg,
) -> None:
    client = synced.stripe
    coupon = next(c for c in client.v1.coupons.list({"limit": 100}).auto_paging_iter() if SYNC_KEY in c.metadata)
    client.v1.coupons.delete(coupon.id)

    _, metadata = _check_drift(dg.DagsterInstance.ephemeral())

    rows = {row["stripe_object"]: row for row in _drift_rows()}
    assert set(rows) == {"coupon", "subscription_schedule"}
    deleted, schedule = rows["coupon"], rows["subscription_schedule"]
    assert (deleted["stripe_id"], deleted["kind"], deleted["operations"]) == (coupon.id, "deleted", ["create"])
    assert deleted["key"] == coupon.metadata[SYNC_KEY].split(":", 1)[1]
    # The next sync creates the coupon again and points the contract's schedule at it.
    assert (schedule["kind"], schedule["operations"]) == ("changed", ["update"])
    assert schedule["contract_keys"] == deleted["contract_keys"] == [schedule["key"]]
    assert client.v1.subscription_schedules.retrieve(schedule["stripe_id"]).metadata["salesforce_order_id"] == (
        schedule["key"]
    )
    assert metadata["drifted_by_kind"].value == {"deleted": 1, "changed": 1}
    assert metadata["requeue_order_ids"].value == [schedule["key"]]


def test_the_drift_config_section_defaults_off_and_names_a_bad_hour() -> None:
    assert parse_config({"start_date": "2025-01-01"}).drift == DriftConfig(enabled=False, hour_utc=4, requeue=False)
    on = parse_config({"start_date": "2025-01-01", "drift": {"enabled": True, "hour_utc": 23, "requeue": True}})
    assert (on.drift.enabled, on.drift.hour_utc, on.drift.requeue) == (True, 23, True)
    with pytest.raises(ConfigError, match="drift.hour_utc"):
        parse_config({"start_date": "2025-01-01", "drift": {"hour_utc": 24}})
