"""The drift check's job and daily schedule.

`stripe_drift_job` materializes `stripe/stripe_drift` only: it is not part of `sync_job` (groups salesforce and
sync), as it lists the whole Stripe account. `drift.enabled` in the config turns the daily schedule on or off (its
default status, and a tick while it is off is skipped with the reason, as for live sync); `drift.hour_utc` sets
the hour and `drift.requeue` whether the scheduled check re-syncs what it finds. Run by hand it works either way.
"""

from __future__ import annotations

import dagster as dg

from sf_stripe_pipeline.defs.config import sync_config
from sf_stripe_pipeline.defs.stripe.assets import STRIPE_DRIFT

stripe_drift_job = dg.define_asset_job(
    "stripe_drift_job",
    selection=dg.AssetSelection.assets(STRIPE_DRIFT),
    description="List the whole Stripe account and report the objects the pipeline owns that were edited, archived "
    "or deleted in Stripe (config `requeue: true` syncs their contracts again afterwards).",
)


def drift_run_config(requeue: bool) -> dict:
    return {"ops": {STRIPE_DRIFT.to_python_identifier(): {"config": {"requeue": requeue}}}}


@dg.schedule(
    job=stripe_drift_job,
    cron_schedule=f"0 {sync_config().drift.hour_utc} * * *",
    execution_timezone="UTC",
    default_status=(
        dg.DefaultScheduleStatus.RUNNING if sync_config().drift.enabled else dg.DefaultScheduleStatus.STOPPED
    ),
    description="Daily drift check of the Stripe account.",
)
def stripe_drift_schedule(context: dg.ScheduleEvaluationContext):
    if not sync_config().drift.enabled:
        return dg.SkipReason("The drift check is off (drift.enabled: false in the sync config).")
    return dg.RunRequest(
        run_key=f"drift-{context.scheduled_execution_time.date().isoformat()}",
        run_config=drift_run_config(sync_config().drift.requeue),
    )
