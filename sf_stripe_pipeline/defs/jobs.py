"""The sync jobs. Their steps run in one process, one after another (`defs/executor.py`).

- `sync_job`: extract, validate, plan and apply. Its partitions are activation days, as *job* partitions (run
  config, see `defs/sync/scope.py`): a schedule tick or a job backfill syncs one day; `dg launch --partition-range
  A...B` or the config `from_date`/`to_date` sync A..B in one run; a run with neither syncs every day to today.
- `plan_job`: the same up to the plan, no writes to Stripe or Salesforce: the dry run.
- `manual_sync_job`: the contracts of chosen orders (config `order_ids`, required, so the Launchpad scaffolds it);
  it works whether or not live sync is on.
"""

# No `from __future__ import annotations`: Dagster reads the config mapping's annotation at load time.
import dagster as dg
from pydantic import Field

from sf_stripe_pipeline.defs.salesforce.assets import GROUP as SALESFORCE_GROUP
from sf_stripe_pipeline.defs.sync.assets import (
    APPLIED_SYNC,
    DRY_RUN_MODE,
    MODE_TAG,
    VALIDATED_CONTRACTS,
    GROUP as SYNC_GROUP,
)
from sf_stripe_pipeline.defs.sync.checks import plan_within_limits
from sf_stripe_pipeline.defs.sync.scope import SYNC_PARTITIONS

ALL_SYNC_ASSETS = dg.AssetSelection.groups(SALESFORCE_GROUP, SYNC_GROUP)
SCOPE_OP = VALIDATED_CONTRACTS.to_python_identifier()
QUIET_CONSOLE = {"console": {"config": {"log_level": "CRITICAL"}}}
"""A CLI run's terminal gets its progress and summary from `runner.py` (a failure in one line, not Dagster's logged
tracebacks); the event log keeps everything."""


def scope_run_config(max_operations: int | None = None, **scope: object) -> dict:
    """Run config setting the scope of a sync run (`SyncScopeConfig` fields) and, optionally, this run's operation
    limit (`PlanLimitsConfig.max_operations`)."""
    ops = {SCOPE_OP: {"config": scope}}
    if max_operations is not None:
        ops[plan_within_limits.op.name] = {"config": {"max_operations": max_operations}}
    return {"ops": ops}


@dg.partitioned_config(partitions_def=SYNC_PARTITIONS)
def one_day(partition_key: str) -> dict:
    return scope_run_config(from_date=partition_key, to_date=partition_key)


class ManualSyncConfig(dg.Config):
    order_ids: list[str] = Field(description="Salesforce Order Ids (initial or amendment) whose contracts to sync.")
    max_operations: int | None = Field(
        default=None, ge=1, description="Allow up to this many Stripe operations in this run (plan_within_limits)."
    )


@dg.config_mapping
def manual_scope(config: ManualSyncConfig) -> dict:
    # With a config mapping the run config holds only the mapping's fields: loggers are set here.
    return {
        **scope_run_config(order_ids=config.order_ids, max_operations=config.max_operations),
        "loggers": QUIET_CONSOLE,
    }


def _sync_job(name: str, selection: dg.AssetSelection, mode: str, description: str, config):
    return dg.define_asset_job(name, selection=selection, config=config, description=description,
                               tags={MODE_TAG: mode})


sync_job = _sync_job(
    "sync_job", ALL_SYNC_ASSETS, "sync",
    "Extract Salesforce, validate, plan and apply to Stripe for an activation day, a range of days, or every day "
    "to today.",
    one_day,
)
plan_job = _sync_job(
    "plan_job", ALL_SYNC_ASSETS - dg.AssetSelection.assets(APPLIED_SYNC), DRY_RUN_MODE,
    "Dry run: everything up to the sync plan; writes nothing to Stripe or Salesforce.", one_day,
)
manual_sync_job = _sync_job(
    "manual_sync_job", ALL_SYNC_ASSETS, "manual",
    "Sync the contracts of chosen orders now (config `order_ids`), live sync on or off.", manual_scope,
)
