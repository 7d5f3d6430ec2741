"""`stripe/stripe_drift`: the drift check. A sync reads only the Stripe objects of the contracts in its scope that
changed in Salesforce since they were last in sync (core/unchanged.py), so an object edited by hand in Stripe is
noticed only when its contract next changes; this asset lists the whole account instead (on its own job and daily
schedule, `defs/stripe/schedules.py`, never in `sync_job`) and reports every object the pipeline owns that the next
sync of its contract would write or report (core/drift.py).

It compares against what every synced contract wants now, computed from the extracted Salesforce org exactly as a
sync from the config's start date to today would (validation, drafting, merge), not against the latest sync
tables, which hold only the latest run's scope. Every drifted object loses its synced digest in the ledger, so the
next sync of its contract reads and corrects it; with `requeue: true` those contracts are synced again after the
check succeeds (`defs/stripe/sensors.py`).
"""

# No `from __future__ import annotations` here: Dagster reads the config and resource annotations at load time.
from collections import Counter

import dagster as dg
from dagster_duckdb import DuckDBResource
from pydantic import Field

from sf_stripe_pipeline import clock, warehouse
from sf_stripe_pipeline.core import build_contracts, contracts_in_scope, desired_state
from sf_stripe_pipeline.core.drift import DriftedObject, find_drift, orders_to_requeue
from sf_stripe_pipeline.defs.config import sync_config
from sf_stripe_pipeline.defs.metadata import records_table, table_metadata
from sf_stripe_pipeline.defs.salesforce.resources import SalesforceResource
from sf_stripe_pipeline.defs.stripe.resources import StripeResource
from sf_stripe_pipeline.defs.sync.assets import APPLIED_SYNC
from sf_stripe_pipeline.defs.sync.assets import _instance_url as instance_url
from sf_stripe_pipeline.defs.sync.scope import SyncScopeConfig, resolve_scope
from sf_stripe_pipeline.stripe.listing import read_owned
from sf_stripe_pipeline.stripe.retry import RetryBudget, RetryingReader
from sf_stripe_pipeline.warehouse import drift, ledger, org

GROUP = "stripe"
STRIPE_DRIFT = dg.AssetKey([GROUP, "stripe_drift"])
DRIFT_COLUMNS = ["kind", "stripe_object", "stripe_id", "record", "contracts", "fields", "operations", "message"]
REQUEUE_METADATA = "requeue_order_ids"
REQUEUE_REQUESTED_METADATA = "requeue_requested"


class DriftRunConfig(dg.Config):
    requeue: bool = Field(
        default=False,
        description="After the check succeeds, sync the contracts of the drifted objects again (manual_sync_job), "
        "so Stripe is put back to what Salesforce says.",
    )


def _record_row(found: DriftedObject) -> dict[str, str]:
    return {
        "kind": found.kind,
        "stripe_object": found.stripe_object,
        "stripe_id": found.stripe_id,
        "record": f"{found.sf_object} {found.sf_id}",
        "contracts": ", ".join(found.contract_keys),
        "fields": ", ".join(found.fields),
        "operations": ", ".join(found.operations),
        "message": found.message,
    }


@dg.asset(
    key=STRIPE_DRIFT,
    group_name=GROUP,
    deps=[APPLIED_SYNC],
    kinds={"stripe", "duckdb"},
    pool="stripe_api",
)
def stripe_drift(
    context: dg.AssetExecutionContext,
    config: DriftRunConfig,
    duckdb: DuckDBResource,
    stripe: StripeResource,
    salesforce: SalesforceResource,
) -> dg.MaterializeResult:
    """Stripe objects the pipeline owns (its ledger, the Stripe ids written back on Salesforce records, objects
    carrying its `salesforce_sync_key`) that differ from what their contracts want: edited, archived, cancelled or
    deleted in Stripe. One row each in `sync.stripe_drift`, with the Salesforce record, the contracts (initial
    Order Ids) and the fields the next sync would write; the orders to re-sync are in `requeue_order_ids`."""
    settings = sync_config()
    stripe_settings = stripe.execution_settings(settings.stripe)
    reader = RetryingReader(
        stripe.get_client(settings.stripe), RetryBudget(stripe_settings.retry_budget_seconds),
        stripe_settings.max_attempts,
    )
    now = clock.now()
    with duckdb.get_connection() as conn:
        warehouse.prepare(conn)
        org_snapshot = org.load_org(conn)
        everything = resolve_scope(SyncScopeConfig(), {}, ())  # what a sync of every day to today covers
        contracts = contracts_in_scope(build_contracts(org_snapshot), org_snapshot, window=everything.window)
        wanted = desired_state(
            contracts, org_snapshot, settings, today=now.date(), instance_url=instance_url(salesforce)
        )
        state = read_owned(reader, wanted, ledger.ids(conn), concurrency=stripe_settings.concurrency)
        drifted = find_drift(wanted, state.actual, state.owned, config=settings, now=int(now.timestamp()))
        drift.write(conn, run_id=context.run.run_id, checked_at=now, drifted=drifted)
        # the next sync of these contracts reads them again (core/unchanged.py) instead of trusting its last sync
        ledger.set_synced_digests(conn, {f"{found.stripe_object}:{found.key}": None for found in drifted})
        table = table_metadata(conn, drift.TABLE.qualified)

    requeue = orders_to_requeue(drifted)
    if config.requeue and requeue:
        context.log.info(
            f"requeue: true: once this run succeeds, the sensor requeue_drifted_contracts (dagster-daemon) requests "
            f"a manual sync of {', '.join(requeue)}"
        )
    return dg.MaterializeResult(
        metadata={
            "drifted_objects": len(drifted),
            "drifted_by_kind": dg.MetadataValue.json(dict(Counter(found.kind for found in drifted))),
            "drifted_by_object": dg.MetadataValue.json(dict(Counter(found.stripe_object for found in drifted))),
            "drifted": records_table([_record_row(found) for found in drifted], DRIFT_COLUMNS),
            "owned_objects_compared": len(state.owned),
            "contracts_checked": len(contracts),
            "objects_listed": dg.MetadataValue.json(dict(state.listed)),
            "unclaimed_pipeline_objects": dg.MetadataValue.json(dict(state.unclaimed)),
            REQUEUE_METADATA: dg.MetadataValue.json(requeue),
            REQUEUE_REQUESTED_METADATA: config.requeue,
            **table,
        }
    )
