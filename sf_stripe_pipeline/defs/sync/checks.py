"""The sync's checks, each a separate asset check that reads the warehouse, so each can also be executed on its own:

- `no_quarantined_contracts` (warning): the failing order of each contract, with every rule it breaks;
- `plan_within_limits` (blocking): stops the run before any write when the plan is larger than the limit (in a
  dry run it only warns: the plan is stored whole and the run ends normally). Destructive changes are not a run-wide
  hazard: `sync_plan` withholds the contracts needing one while `limits.allow_destructive` is false
  (`core/limits.py`);
- `no_sync_errors` (blocking, ERROR): every Stripe write and Salesforce write-back of the latest apply succeeded.
  A run with failed operations therefore ends FAILURE, never green, with the failed operations in the check's
  metadata; `sf-stripe-pipeline sync` exits 3 for it (`runner.py`).
"""

# No `from __future__ import annotations` here: Dagster reads the config and resource annotations at load time.
import dagster as dg
from dagster_duckdb import DuckDBResource
from pydantic import Field

from sf_stripe_pipeline import home, warehouse
from sf_stripe_pipeline.core.limits import run_limit_problems
from sf_stripe_pipeline.defs.config import sync_config
from sf_stripe_pipeline.defs.metadata import records_table
from sf_stripe_pipeline.defs.sync.assets import (
    APPLIED_SYNC,
    DRY_RUN_MODE,
    MODE_TAG,
    PLAN_LIMITS_CHECK,
    QUARANTINE_CHECK,
    REJECTION_COLUMNS,
    SYNC_ERRORS_CHECK,
    SYNC_PLAN,
    VALIDATED_CONTRACTS,
    rejection_rows,
)
from sf_stripe_pipeline.warehouse import audit, plan, validation

FAILURE_COLUMNS = ["operation", "object", "record", "status", "message"]


@dg.asset_check(
    asset=VALIDATED_CONTRACTS,
    name=QUARANTINE_CHECK,
    description="Orders breaking a schema or business rule never reach Stripe: each failing order is listed with "
    "every rule it breaks; the orders before it still sync, the ones after it wait.",
)
def no_quarantined_contracts(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    with duckdb.get_connection() as conn:
        warehouse.prepare(conn)
        rejections = rejection_rows(
            (verdict.contract.key, verdict.failing_order_id, v)
            for verdict in validation.verdicts(conn, failing_only=True)
            for v in verdict.violations
        )
        quarantined = validation.quarantined_count(conn)
    return dg.AssetCheckResult(
        passed=quarantined == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "quarantined_contracts": quarantined,
            "rejections": records_table(rejections, REJECTION_COLUMNS),
        },
    )


class PlanLimitsConfig(dg.Config):
    max_operations: int | None = Field(
        default=None,
        ge=1,
        description="Allow up to this many operations in this run (e.g. a large first sync), instead of the config's "
        "limits.max_operations_per_run.",
    )


@dg.asset_check(
    asset=SYNC_PLAN,
    name=PLAN_LIMITS_CHECK,
    blocking=True,
    description="Guards Stripe against run-wide hazards: at most `limits.max_operations_per_run` operations (or this "
    "run's `max_operations`). A failure stops the run before any write; the plan is stored whole either way, and a "
    "dry run only warns.",
)
def plan_within_limits(
    context: dg.AssetCheckExecutionContext, config: PlanLimitsConfig, duckdb: DuckDBResource
) -> dg.AssetCheckResult:
    with duckdb.get_connection() as conn:
        warehouse.prepare(conn)
        operations, destructive = plan.operation_counts(conn)
    limits = sync_config().limits
    max_operations = config.max_operations or limits.max_operations_per_run
    problems = run_limit_problems(operations, max_operations, home.config_path())
    dry_run = context.run.tags.get(MODE_TAG) == DRY_RUN_MODE
    return dg.AssetCheckResult(
        passed=not problems,
        # A dry run applies nothing, so the plan is reported whole and the run ends normally.
        severity=dg.AssetCheckSeverity.WARN if dry_run else dg.AssetCheckSeverity.ERROR,
        description="; ".join(problems) or "Plan within limits.",
        metadata={"operations": operations, "max_operations": max_operations, "destructive": destructive},
    )


def _latest_apply_run(instance: dg.DagsterInstance) -> str | None:
    records = instance.fetch_materializations(APPLIED_SYNC, limit=1).records
    return records[0].run_id if records else None


@dg.asset_check(
    asset=APPLIED_SYNC,
    name=SYNC_ERRORS_CHECK,
    blocking=True,
    description="Every Stripe write and Salesforce write-back of the latest apply succeeded. Fails (ERROR, so the run "
    "fails too) with the failed operations listed.",
)
def no_sync_errors(context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource) -> dg.AssetCheckResult:
    run_id = _latest_apply_run(context.instance)
    with duckdb.get_connection() as conn:
        warehouse.prepare(conn)
        rows = audit.operations_of_run(conn, run_id) if run_id else []
    failed = [row for row in rows if row["status"] in audit.FAILED_STATUSES]
    skipped = [row for row in rows if row["status"] == "skipped"]
    failures = [
        {
            "operation": f"{row['operation']} {row['stripe_object'] or ''}".strip(),
            "object": row["stripe_id"] or "",
            "record": f"{row['sf_object']} {row['sf_id']}",
            "status": row["status"],
            "message": row["message"],
        }
        for row in [*failed, *skipped]
    ]
    return dg.AssetCheckResult(
        passed=not failed and not skipped,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"{len(failed)} of {len(rows)} operations failed, {len(skipped)} skipped after them"
        if failed or skipped
        else f"All {len(rows)} operations succeeded.",
        metadata={
            "run_id": run_id or "",
            "operations": len(rows),
            "failed": len(failed),
            "skipped": len(skipped),
            "failed_operations": records_table(failures, FAILURE_COLUMNS),
        },
    )
