"""How a data engineer runs the sync: dry run, backfill over a partition range, manual sync, live sync."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from sf_stripe_pipeline.defs.config import sync_config
from sf_stripe_pipeline.definitions import defs
from sf_stripe_pipeline.defs.sync import assets as sync_assets
from sf_stripe_pipeline.defs.sync.assets import APPLIED_SYNC, VALIDATED_CONTRACTS
from sf_stripe_pipeline.runner import run_sync
from sf_stripe_pipeline.sandbox.demo_org import DemoCase

from .conftest import SyncedOrg


def _synced_order_ids(synced: SyncedOrg) -> set[str]:
    schedules = synced.stripe.v1.subscription_schedules.list({"limit": 100}).data
    return {schedule.metadata.to_dict().get("salesforce_order_id") for schedule in schedules}


def _activated(order: dict) -> datetime:
    return datetime.fromisoformat(order["ActivatedDate"].replace("+0000", "+00:00"))


def test_a_dry_run_plans_and_writes_nothing(demo_org: SyncedOrg) -> None:
    summary = run_sync(dry_run=True)

    assert summary.success, summary.failure
    assert summary.job_name == "plan_job"
    assert summary.planned_operations.get("create subscription_schedule", 0) >= 5
    assert summary.planned_operations.get("create customer", 0) >= 1
    assert (summary.stripe_writes, summary.salesforce_writes) == (0, 0)
    assert not [entry for entry in demo_org.stripe_sandbox.request_log() if entry.is_write]
    assert demo_org.stripe.v1.customers.list().data == []
    assert all(demo_org.stripe_id("Order", order["Id"]) is None for order in demo_org.org["Order"])


def test_a_backfill_over_a_partition_range_syncs_exactly_the_contracts_activated_in_it(demo_org: SyncedOrg) -> None:
    new_orders = sorted(demo_org.unamended_new_orders(), key=_activated)
    first, last = _activated(new_orders[0]).date(), _activated(new_orders[len(new_orders) // 2]).date()
    range_tags = {
        "dagster/asset_partition_range_start": first.isoformat(),
        "dagster/asset_partition_range_end": last.isoformat(),
    }
    instance = dg.DagsterInstance.ephemeral()

    result = defs().resolve_job_def("sync_job").execute_in_process(instance=instance, tags=range_tags)

    assert result.success
    window_end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    inside = {order["Id"] for order in new_orders if _activated(order) < window_end}
    outside = {order["Id"] for order in demo_org.orders(*DemoCase) if _activated(order) >= window_end}
    synced = _synced_order_ids(demo_org)
    assert inside and inside <= synced
    assert not synced & outside
    for key in (VALIDATED_CONTRACTS, APPLIED_SYNC):  # the range's totals say which range they are
        [record] = instance.fetch_materializations(key, limit=1).records
        assert record.asset_materialization.metadata["scope"].value == f"{first.isoformat()}...{last.isoformat()}"
    assert len(instance.get_runs()) == 1, "a partition range is one run (single-run backfill policy)"


@pytest.mark.parametrize(("on_demand_share", "org_read"), [(sync_assets.ON_DEMAND_SHARE, "whole"), (1.0, "on demand")])
def test_a_job_partition_syncs_the_contracts_activated_that_day(
    demo_org: SyncedOrg, monkeypatch: pytest.MonkeyPatch, on_demand_share: float, org_read: str
) -> None:
    """A day's contracts are found among the whole org loaded, or, when the day changed few of the org's orders (a
    live sync between changes), from those orders with the org read on demand: the same contracts either way."""
    monkeypatch.setattr(sync_assets, "ON_DEMAND_SHARE", on_demand_share)
    [order, *_] = demo_org.unamended_new_orders()
    day = _activated(order).date().isoformat()
    instance = dg.DagsterInstance.ephemeral()

    result = defs().resolve_job_def("sync_job").execute_in_process(instance=instance, partition_key=day)

    assert result.success
    same_day = {other["Id"] for other in demo_org.orders(*DemoCase) if _activated(other).date().isoformat() == day}
    assert order["Id"] in _synced_order_ids(demo_org) <= same_day
    [record] = instance.fetch_materializations(APPLIED_SYNC, limit=1).records
    assert record.asset_materialization.metadata["scope"].value == day
    [validated] = instance.fetch_materializations(VALIDATED_CONTRACTS, limit=1).records
    assert validated.asset_materialization.metadata["org_read"].value == org_read


def test_the_manual_job_requires_order_ids_and_refuses_unknown_ones(demo_org: SyncedOrg) -> None:
    job = defs().resolve_job_def("manual_sync_job")
    fields = job.run_config_schema.config_type.fields
    assert fields["order_ids"].is_required, "the Launchpad scaffolds order_ids"
    assert not fields["max_operations"].is_required

    result = job.execute_in_process(run_config={"order_ids": ["801000000000NOPE"]}, raise_on_error=False)

    assert not result.success
    [failure] = [event for event in result.all_events if event.is_step_failure]
    assert failure.step_failure_data.user_failure_data.description == (
        "order_ids not found in the extracted Salesforce Orders: 801000000000NOPE"
    )
    assert not demo_org.stripe_sandbox.request_log(), "nothing reached Stripe"


def test_a_manual_sync_of_one_order_works_while_live_sync_is_off(demo_org: SyncedOrg) -> None:
    assert sync_config().live_sync.enabled is False
    [order, *_] = demo_org.unamended_new_orders()

    summary = run_sync(order_ids=[order["Id"]])

    assert summary.success, summary.failure
    assert summary.job_name == "manual_sync_job"
    assert summary.contracts_synced == 1
    assert summary.org_read == "on demand", "its contract's records, not the whole org"
    assert _synced_order_ids(demo_org) == {order["Id"]}
    assert demo_org.stripe_id("Order", order["Id"]).startswith("sub_sched_")
    others = [other for other in demo_org.org["Order"] if other["Id"] != order["Id"]]
    assert all(demo_org.stripe_id("Order", other["Id"]) is None for other in others)


def _tick(at: datetime) -> dg.RunRequest | dg.SkipReason:
    definitions = defs()
    schedule = definitions.resolve_schedule_def("live_sync_schedule")
    with dg.instance_for_test() as instance, dg.build_schedule_context(
        instance=instance, scheduled_execution_time=at, repository_def=definitions.get_repository_def()
    ) as context:
        result = schedule.evaluate_tick(context)
        return (result.run_requests or [None])[0] or dg.SkipReason(result.skip_message)


def test_live_sync_ticks_are_skipped_while_it_is_off_in_the_config() -> None:
    tick = _tick(datetime(2025, 3, 10, 12, 15, tzinfo=UTC))
    assert isinstance(tick, dg.SkipReason)
    assert "live_sync.enabled" in tick.skip_message


def test_live_sync_resyncs_todays_partition_when_on(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "live.yaml"
    config.write_text("start_date: 2025-01-01\nlive_sync:\n  enabled: true\n  interval_minutes: 15\n")
    monkeypatch.setenv("SF_STRIPE_CONFIG", str(config))

    tick = _tick(datetime(2025, 3, 10, 12, 15, tzinfo=UTC))

    assert isinstance(tick, dg.RunRequest)
    assert tick.partition_key == "2025-03-10"
    assert tick.tags["sf_stripe/mode"] == "live"


def test_applied_sync_goes_stale_after_missed_live_sync_intervals_only_while_live_sync_is_on(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sf_stripe_pipeline.defs.sync.assets import live_sync_freshness

    assert defs().resolve_asset_graph().get(APPLIED_SYNC).freshness_policy is None, "live sync is off here"
    config = tmp_path / "live.yaml"
    config.write_text("start_date: 2025-01-01\nlive_sync:\n  enabled: true\n  interval_minutes: 15\n")
    monkeypatch.setenv("SF_STRIPE_CONFIG", str(config))

    policy = live_sync_freshness()

    windows = (policy.warn_window.to_timedelta(), policy.fail_window.to_timedelta())
    assert windows == (timedelta(minutes=20), timedelta(minutes=35)), "one missed interval warns, two fail"
