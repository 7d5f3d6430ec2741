"""Re-queueing drifted contracts: when a run that materialized `stripe/stripe_drift` with `requeue: true` succeeds,
this sensor requests one `manual_sync_job` run for the orders the check named (`requeue_order_ids` metadata).

A run-status sensor, rather than launching from inside the asset, because the manual sync must start only once the
check's run has ended (one run writes the warehouse at a time, `defs/warehouse_resource.py`), and a sensor's run
request goes through the instance's queue like any other run. It watches every job of the code location, so the
check run from the asset graph's Materialize re-queues too. It needs the dagster-daemon (`dg dev` runs one); without
it, the order ids stay in the materialization's metadata for a manual sync.
"""

from __future__ import annotations

import dagster as dg

from sf_stripe_pipeline.defs.jobs import manual_sync_job
from sf_stripe_pipeline.defs.stripe.assets import REQUEUE_METADATA, REQUEUE_REQUESTED_METADATA, STRIPE_DRIFT

REQUEUED_BY_TAG = "sf_stripe/requeued_by"
RECENT_CHECKS = 10


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    request_job=manual_sync_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="After a drift check asked to re-queue (requeue: true), sync the contracts it found drifted.",
)
def requeue_drifted_contracts(context: dg.RunStatusSensorContext):
    run_id = context.dagster_run.run_id
    records = context.instance.fetch_materializations(STRIPE_DRIFT, limit=RECENT_CHECKS).records
    check = next((record for record in records if record.run_id == run_id), None)
    if check is None:
        return dg.SkipReason(f"Run {run_id} did not check drift.")
    metadata = check.asset_materialization.metadata
    requested = metadata.get(REQUEUE_REQUESTED_METADATA)
    order_ids = metadata[REQUEUE_METADATA].value if REQUEUE_METADATA in metadata else []
    if not (requested and requested.value):
        return dg.SkipReason(f"Drift check {run_id} did not ask to re-queue (requeue: false).")
    if not order_ids:
        return dg.SkipReason(f"Drift check {run_id} found nothing to re-sync.")
    return dg.RunRequest(
        run_key=f"drift-requeue-{run_id}",
        run_config={"order_ids": list(order_ids)},
        tags={REQUEUED_BY_TAG: run_id},
    )
