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

sync_job = dg.define_asset_job(
    "sync_job",
    selection=ALL_SYNC_ASSETS,
    executor_def=dg.in_process_executor,
    description="Extract Salesforce, validate, plan and apply to Stripe for the selected partitions.",
    tags={"sf_stripe/mode": "sync"},
)

plan_job = dg.define_asset_job(
    "plan_job",
    selection=ALL_SYNC_ASSETS - dg.AssetSelection.assets(APPLIED_SYNC),
    executor_def=dg.in_process_executor,
    description="Dry run: everything up to the sync plan; writes nothing to Stripe or Salesforce.",
    tags={"sf_stripe/mode": "dry_run"},
)

manual_sync_job = dg.define_asset_job(
    "manual_sync_job",
    selection=ALL_SYNC_ASSETS,
    executor_def=dg.in_process_executor,
    description="Sync chosen orders now (config `order_ids` on validated_contracts), live sync on or off.",
    tags={"sf_stripe/mode": "manual"},
)
