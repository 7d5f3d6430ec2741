"""Old-order migration (flag `old_order_migration`, spec §1.12, F33): a contract whose initial order was activated
before the sync's start date was billed by another system until now, so it must not be billed again for that time.

Like the connector, the sync creates a Subscription backdated to the order's start (`backdate_start_date`), first
billed on the contract's next billing date after today (`billing_cycle_anchor`, same day of month) with
`proration_behavior=none`, so the time already invoiced elsewhere is free; then it hands that subscription to a
schedule (`from_subscription`) for the rest of the term, ending with it (`end_behavior=cancel`) and marked
`salesforce_pre_integration_order=true`. Phases that ended before today are history and left out; the phase that
runs today starts at the order's start (where the subscription does) and its one-time items, billed elsewhere,
are dropped. Renewable orders only: other kinds of old order stay pre-integration errors (F2).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sf_stripe_pipeline.core.amendments import next_billing_date
from sf_stripe_pipeline.core.config import SyncConfig
from sf_stripe_pipeline.core.money import midnight_timestamp

MIGRATION_KEY_SUFFIX = "-migration"
"""The key of the backdated subscription a migrated order's schedule is made from: `<initial order Id>-migration`."""
PRE_INTEGRATION_MARK = {"salesforce_pre_integration_order": "true"}


def activated_before_start(order: Mapping[str, Any], config: SyncConfig) -> bool:
    """F2: an initial order activated before the sync's start date (a pre-integration order)."""
    activated = order.get("ActivatedDate")
    return activated is not None and activated < datetime.combine(config.start_date, datetime.min.time(), tzinfo=UTC)


def migrated(
    schedule: Mapping[str, Any], *, order_start: date, today: date, interval_months: int
) -> tuple[dict, dict] | None:
    """(schedule params with `from_subscription` to be filled, the backdated subscription's params) for a
    pre-integration contract whose drafted `schedule` params are given; None when its term is over."""
    now = midnight_timestamp(today)
    live = [phase for phase in schedule["phases"] if phase["end_date"] > now]
    if not live:
        return None
    current, *later = live
    current = {key: value for key, value in current.items() if key != "add_invoice_items"}
    phases = [{**phase, "proration_behavior": "none"} for phase in (current, *later)]
    metadata = {**schedule.get("metadata", {}), **PRE_INTEGRATION_MARK}
    settings = schedule.get("default_settings", {})
    anchor = next_billing_date(order_start, interval_months, today + timedelta(days=1))
    subscription = {
        "customer": schedule["customer"],
        "items": current["items"],
        "backdate_start_date": schedule["start_date"],
        "billing_cycle_anchor": midnight_timestamp(anchor),
        "proration_behavior": "none",
        "metadata": metadata,
        **({"discounts": current["discounts"]} if current.get("discounts") else {}),
        **({"collection_method": settings["collection_method"]} if "collection_method" in settings else {}),
        **(
            {"days_until_due": settings["invoice_settings"]["days_until_due"]}
            if settings.get("collection_method") == "send_invoice"
            and "days_until_due" in settings.get("invoice_settings", {})
            else {}
        ),
    }
    return {**schedule, "end_behavior": "cancel", "metadata": metadata, "phases": phases}, subscription
