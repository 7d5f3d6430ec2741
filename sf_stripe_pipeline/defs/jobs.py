"""The sync jobs. Each runs its steps in one process, one after another: DuckDB takes one writing process per
file, so parallel steps would fight over the lock (see the DuckDB notes in the README).

- `sync_job`: extract, validate, plan and apply, for a partition or a range of partitions (single-run backfills).
- `plan_job`: the same up to the plan, no writes to Stripe or Salesforce: the dry run.
- `manual_sync_job`: `sync_job` for chosen orders (`ops.validated_contracts.config.order_ids`); it works whether or
  not live sync is on.
"""

from __future__ import annotations

import dagster as dg

from sf_stripe_pipeline.defs.salesforce.assets import GROUP as SALESFORCE_GROUP
from sf_stripe_pipeline.defs.sync.assets import APPLIED_SYNC, GROUP as SYNC_GROUP

ALL_SYNC_ASSETS = dg.AssetSelection.groups(SALESFORCE_GROUP, SYNC_GROUP)


def _sync_job(name: str, selection: dg.AssetSelection, mode: str, description: str) -> dg.UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        name, selection=selection, executor_def=dg.in_process_executor, description=description,
        tags={"sf_stripe/mode": mode},
    )


sync_job = _sync_job(
    "sync_job", ALL_SYNC_ASSETS, "sync",
    "Extract Salesforce, validate, plan and apply to Stripe for the selected partitions.",
)
plan_job = _sync_job(
    "plan_job", ALL_SYNC_ASSETS - dg.AssetSelection.assets(APPLIED_SYNC), "dry_run",
    "Dry run: everything up to the sync plan; writes nothing to Stripe or Salesforce.",
)
manual_sync_job = _sync_job(
    "manual_sync_job", ALL_SYNC_ASSETS, "manual",
    "Sync chosen orders now (config `order_ids` on validated_contracts), live sync on or off.",
)
