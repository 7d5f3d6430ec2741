"""Live sync: re-sync today's activation day (a partition of `sync_job`) every `live_sync.interval_minutes` minutes.

`live_sync.enabled` in the config turns it on or off: it sets the schedule's default status, and a tick while it
is off is skipped with the reason, so the config stays the source of truth. Manual sync works either way.
"""

from __future__ import annotations

import dagster as dg

from sf_stripe_pipeline.defs.config import sync_config
from sf_stripe_pipeline.defs.jobs import sync_job
from sf_stripe_pipeline.defs.sync.scope import SYNC_PARTITIONS


def interval_cron(minutes: int) -> str:
    if minutes < 60:
        return f"*/{minutes} * * * *"
    return f"0 */{minutes // 60} * * *"


@dg.schedule(
    job=sync_job,
    cron_schedule=interval_cron(sync_config().live_sync.interval_minutes),
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING if sync_config().live_sync.enabled else dg.DefaultScheduleStatus.STOPPED,
    description="Live sync of today's partition.",
)
def live_sync_schedule(context: dg.ScheduleEvaluationContext):
    if not sync_config().live_sync.enabled:
        return dg.SkipReason("Live sync is off (live_sync.enabled: false in the sync config).")
    partition_key = SYNC_PARTITIONS.get_partition_key_for_timestamp(context.scheduled_execution_time.timestamp())
    return dg.RunRequest(
        run_key=f"live-{context.scheduled_execution_time.isoformat()}",
        partition_key=partition_key,
        tags={"sf_stripe/mode": "live"},
    )
