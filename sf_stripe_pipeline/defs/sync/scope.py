"""What a sync run covers: a window of `Order.ActivatedDate` days, or chosen orders.

The sync assets are not partitioned: their tables hold the latest run's scope, and a range of 1,100 days costs what
one day costs (Dagster books every asset partition of a run as its own event). The days are *job* partitions of
`sync_job` instead (`defs/jobs.py`): the partition picker, the job's Partitions tab and job backfills (one run per
day) stay, and a partition key lands in `SyncScopeConfig.from_date`/`to_date`. Every sync materialization carries
its scope as `scope` metadata (`2025-01-01...2025-03-10`, `2025-03-10`, `orders 801…`).
"""

# No `from __future__ import annotations` here: Dagster reads the config annotations at load time.
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import dagster as dg
from pydantic import Field

from sf_stripe_pipeline import clock
from sf_stripe_pipeline.defs.config import sync_config

SYNC_PARTITIONS = dg.DailyPartitionsDefinition(
    start_date=sync_config().start_date.isoformat(),
    end_offset=1,  # today is a partition too: live sync re-syncs it every few minutes
)
"""The days of `Order.ActivatedDate`: partitions of `sync_job`, not of its assets."""

PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
SCOPE_METADATA = "scope"


class SyncScopeConfig(dg.Config):
    from_date: str | None = Field(
        default=None, description="First activation day to sync (YYYY-MM-DD); default the config's start_date."
    )
    to_date: str | None = Field(default=None, description="Last activation day to sync (YYYY-MM-DD); default today.")
    order_ids: list[str] = Field(
        default_factory=list,
        description="Manual sync: the contracts of these orders (initial or amendment), whatever their activation day.",
    )


MANUAL_LABEL = "orders "
"""How a manual sync's scope label starts ("orders 801..., 801...")."""


def is_manual(label: str) -> bool:
    """Whether a scope label is a manual sync's (chosen orders, not a window of days)."""
    return label.startswith(MANUAL_LABEL)


@dataclass(frozen=True)
class SyncScope:
    label: str
    window: tuple[datetime, datetime] | None = None
    """[start, end) on Order.ActivatedDate; None for a manual sync."""
    order_ids: tuple[str, ...] | None = None


def today_key() -> str:
    """Today's partition key by the sync's clock (`SF_STRIPE_SANDBOX_NOW` pins it)."""
    return clock.now().date().isoformat()


def _day(text: str, source: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise dg.Failure(description=f"{source} must be a day like 2025-03-10, got {text!r}", allow_retries=False)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def resolve_scope(config: SyncScopeConfig, tags: dict[str, str], known_order_ids: Collection[str]) -> SyncScope:
    """The run's scope, first match wins:
    1. `order_ids` (manual sync); an id that is not an extracted Order fails the run, naming it;
    2. the config's `from_date`/`to_date` (where a job partition lands);
    3. the tag `dagster/partition` (`dg launch --partition` tags the run without applying the partitioned config);
    4. the range tags `dagster/asset_partition_range_start/end` (`dg launch --partition-range`, the Launchpad);
    5. every day from the config's start date to today.
    A window never starts before the config's start date: older orders are pre-integration (F2)."""
    if config.order_ids:
        unknown = [order_id for order_id in config.order_ids if order_id not in known_order_ids]
        if unknown:
            raise dg.Failure(
                description=f"order_ids not found in the extracted Salesforce Orders: {', '.join(unknown)}",
                allow_retries=False,
            )
        return SyncScope(label=MANUAL_LABEL + ", ".join(config.order_ids), order_ids=tuple(config.order_ids))
    day = tags.get(PARTITION_TAG)
    first_text = config.from_date or day or tags.get(RANGE_START_TAG)
    last_text = config.to_date or day or tags.get(RANGE_END_TAG)
    first = max(_day(first_text, "from_date") if first_text else date.min, sync_config().start_date)
    last = _day(last_text, "to_date") if last_text else clock.now().date()
    return _window_scope(first, last)


def _window_scope(first: date, last: date) -> SyncScope:
    label = first.isoformat() if first == last else f"{first.isoformat()}{_RANGE}{last.isoformat()}"
    return SyncScope(label=label, window=(_midnight(first), _midnight(last + timedelta(days=1))))


_RANGE = "..."


def window_scope_of(label: str) -> SyncScope:
    """The window scope a label names (the inverse of a window's label): a later step of the run acts on its scope."""
    first, _, last = label.partition(_RANGE)
    return _window_scope(_day(first, "scope"), _day(last or first, "scope"))


def latest_scope_label(instance: dg.DagsterInstance, validated_contracts: dg.AssetKey) -> str:
    """The scope the sync tables hold now: that of the latest validation (every later table derives from it)."""
    records = instance.fetch_materializations(validated_contracts, limit=1).records
    if not records:
        return ""
    value = records[0].asset_materialization.metadata.get(SCOPE_METADATA)
    return str(value.value) if value is not None else ""
