"""Sync: from the extracted Salesforce org to Stripe, one daily partition (UTC) at a time.

    salesforce/* ─▶ validated_contracts ─▶ desired_stripe_state ─▶ actual_stripe_state ─▶ sync_plan ─▶ applied_sync

A partition syncs every contract (an initial order plus its amendments) that was activated or changed that day: an
order's activation, or the last change of the order, its lines, its quote or its coupon snapshots
(`SystemModstamp`/`LastModifiedDate`) falls in the partition's window (see core/contracts.py). It syncs from current
Salesforce and current Stripe state, so replaying a partition is safe and partitions can run in any order. A manual
sync names orders instead (`SyncScopeConfig.order_ids`), and the window is then ignored.

Within a contract, orders sync in order: when an amendment fails validation, the initial order and the amendments
before it still sync, the failing one gets its errors and the later ones wait (core/rules.py).

Each asset keeps its latest result in a DuckDB table of the `sync` schema (one module per table in
`sf_stripe_pipeline/warehouse/`); the translation and the diff are pure functions in `sf_stripe_pipeline.core`, and
applying a plan is `sf_stripe_pipeline/apply.py`, so these assets only wire them together and report metadata.
A dry run materializes everything up to `sync_plan` and stops there.
"""

# No `from __future__ import annotations` here: Dagster reads the config and resource annotations at load time.
import warnings
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource
from pydantic import Field, field_validator

from sf_stripe_pipeline import clock, warehouse
from sf_stripe_pipeline.apply import apply_plan
from sf_stripe_pipeline.core import assess_contracts, build_contracts, build_plan, contracts_in_scope, merge_desired
from sf_stripe_pipeline.core.limits import run_limit_problems, withhold_destructive
from sf_stripe_pipeline.defs.config import sync_config
from sf_stripe_pipeline.defs.salesforce.assets import EXTRACT_KEYS
from sf_stripe_pipeline.defs.salesforce.resources import SalesforceResource
from sf_stripe_pipeline.defs.stripe.resources import StripeResource
from sf_stripe_pipeline.stripe.reads import ActualObject, fetch_actual, find_orphans
from sf_stripe_pipeline.stripe.retry import RetryBudget, RetryingReader
from sf_stripe_pipeline.warehouse import actual, desired, ledger, org, plan, validation

# Single-run backfills are the design (a partition range is one run); the parameter is beta in Dagster 1.13.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=dg.BetaWarning)

GROUP = "sync"
VALIDATED_CONTRACTS = dg.AssetKey([GROUP, "validated_contracts"])
DESIRED_STATE = dg.AssetKey([GROUP, "desired_stripe_state"])
ACTUAL_STATE = dg.AssetKey([GROUP, "actual_stripe_state"])
SYNC_PLAN = dg.AssetKey([GROUP, "sync_plan"])
APPLIED_SYNC = dg.AssetKey([GROUP, "applied_sync"])

QUARANTINE_CHECK = "no_quarantined_contracts"
PLAN_LIMITS_CHECK = "plan_within_limits"
SYNC_ERRORS_CHECK = "no_sync_errors"

MODE_TAG, DRY_RUN_MODE = "sf_stripe/mode", "dry_run"
"""The run tag the jobs set (defs/jobs.py); a dry run stops at the plan."""

SYNC_PARTITIONS = dg.DailyPartitionsDefinition(
    start_date=sync_config().start_date.isoformat(),
    end_offset=1,  # today is a partition too: live sync re-syncs it every few minutes
)
PARTITIONED = {
    "partitions_def": SYNC_PARTITIONS,
    "backfill_policy": dg.BackfillPolicy.single_run(),
    "group_name": GROUP,
}


class SyncScopeConfig(dg.Config):
    order_ids: list[str] = Field(
        default_factory=list,
        description="Manual sync: sync the contracts of these orders (initial or amendment) and ignore the "
        "partition window.",
    )
    since: str | None = Field(
        default=None,
        description="A backfill in one partition: the window starts at this date (YYYY-MM-DD, UTC) instead of the "
        "partition's own start, and ends where the partition (or range) ends. However old the date, Dagster "
        "then keeps one partition's records, not one per day.",
    )

    @field_validator("since")
    @classmethod
    def _a_date(cls, since: str | None) -> str | None:
        if since is not None:
            date.fromisoformat(since)  # ValueError names the bad date
        return since


def _window(context: dg.AssetExecutionContext, config: SyncScopeConfig) -> tuple[datetime, datetime]:
    window = context.partition_time_window
    if config.since:
        since = date.fromisoformat(config.since)
        return min(datetime(since.year, since.month, since.day, tzinfo=UTC), window.start), window.end
    return window.start, window.end


def _partition_label(context: dg.AssetExecutionContext) -> str:
    keys = context.partition_key_range
    return keys.start if keys.start == keys.end else f"{keys.start}...{keys.end}"


def _dry_run(context: dg.AssetExecutionContext) -> bool:
    return context.run.tags.get(MODE_TAG) == DRY_RUN_MODE


def _markdown(rows: Sequence[dict[str, Any]], limit: int = 20) -> dg.MetadataValue:
    if not rows:
        return dg.MetadataValue.md("none")
    return dg.MetadataValue.md(pd.DataFrame(list(rows)[:limit]).to_markdown(index=False))


def _instance_url(salesforce: SalesforceResource) -> str:
    return f"https://{salesforce.get_client().sf_instance}"


@dg.asset(
    key=VALIDATED_CONTRACTS,
    deps=list(EXTRACT_KEYS.values()),
    kinds={"duckdb"},
    check_specs=[
        dg.AssetCheckSpec(
            QUARANTINE_CHECK,
            asset=VALIDATED_CONTRACTS,
            description="Orders breaking a schema or business rule never reach Stripe: each failing order is listed "
            "with every rule it breaks; the orders before it still sync, the ones after it wait.",
        )
    ],
    **PARTITIONED,
)
def validated_contracts(
    context: dg.AssetExecutionContext, config: SyncScopeConfig, duckdb: DuckDBResource, salesforce: SalesforceResource
) -> dg.MaterializeResult:
    """The contracts in scope, each assessed once: the orders that sync (and their desired Stripe objects), the
    order that fails with every rule it breaks (schemas, business rules, what Stripe would refuse), and the orders
    that wait for it or are deleted in Salesforce."""
    instance_url = _instance_url(salesforce)
    with duckdb.get_connection() as conn:
        warehouse.prepare(conn)
        org_snapshot = org.load_org(conn)
        if config.order_ids:
            contracts = contracts_in_scope(build_contracts(org_snapshot), org_snapshot, order_ids=config.order_ids)
        else:
            contracts = contracts_in_scope(
                build_contracts(org_snapshot), org_snapshot, window=_window(context, config)
            )
        assessments = assess_contracts(
            contracts, org_snapshot, sync_config(), today=clock.now().date(), instance_url=instance_url
        )
        validation.write(
            conn, run_id=context.run.run_id, partition=_partition_label(context), contracts=contracts,
            assessments=assessments,
        )

    broken = [(key, v) for key, found in assessments.items() for v in found.violations]
    by_rule = Counter(violation.rule for _, violation in broken)
    by_status = Counter(assessment.status for assessment in assessments.values())
    failing = sum(1 for found in assessments.values() if found.failing_order_id)
    sample = [
        {
            "contract": key,
            "order": assessments[key].failing_order_id,
            "rule": v.rule,
            "record": f"{v.sf_object} {v.sf_id}",
            "message": v.message,
        }
        for key, v in broken
    ]
    counts = {
        "contracts_in_scope": len(contracts),
        "valid_contracts": by_status[validation.VALID],
        "partly_synced_contracts": by_status[validation.PARTIAL],
        "quarantined_contracts": by_status[validation.QUARANTINED],
        "deleted_contracts": by_status[validation.DELETED],
        "failing_orders": failing,
        "waiting_orders": sum(
            1 for found in assessments.values() for _, why in found.skipped if why.startswith("Waiting")
        ),
        "violations_by_rule": dg.MetadataValue.json(dict(by_rule)),
    }
    return dg.MaterializeResult(
        metadata={**counts, "dagster/row_count": len(contracts), "quarantine_sample": _markdown(sample)},
        check_results=[
            dg.AssetCheckResult(
                check_name=QUARANTINE_CHECK,
                passed=failing == 0,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={**counts, "sample": _markdown(sample)},
            )
        ],
    )


@dg.asset(key=DESIRED_STATE, deps=[VALIDATED_CONTRACTS], kinds={"duckdb"}, **PARTITIONED)
def desired_stripe_state(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
    """The Stripe objects that Salesforce plus the mapping config imply for the synced orders in scope: customers,
    products, prices, coupons, subscription schedules, subscriptions and invoices, with symbolic references between
    them; each contract's objects as validation drafted them, merged (one customer per account, one price per
    PricebookEntry...)."""
    with duckdb.get_connection() as conn:
        warehouse.prepare(conn)
        objects_by_contract, links = validation.syncing_objects(conn)
        objects = merge_desired(objects_by_contract)
        # The coupon links are what applied_sync needs for the coupon snapshots and write-backs (F43/F44).
        desired.write_coupon_links(conn, context.run.run_id, links)
        desired.write(conn, context.run.run_id, objects)
    counts = Counter(obj.stripe_object for obj in objects)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(objects),
            "objects_by_type": dg.MetadataValue.json(dict(counts)),
            "contracts": len(objects_by_contract),
        }
    )


@dg.asset(key=ACTUAL_STATE, deps=[DESIRED_STATE], kinds={"stripe", "duckdb"}, pool="stripe_api", **PARTITIONED)
def actual_stripe_state(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource, stripe: StripeResource
) -> dg.MaterializeResult:
    """The Stripe objects behind the desired ones, read by the ledger's ids or the Stripe ids written on the
    Salesforce records (adoption); those neither names are looked for by their `salesforce_sync_key` metadata
    (objects an earlier attempt created without the pipeline learning their id: after a crash, or with the
    warehouse rebuilt), so the plan adopts them instead of creating them twice."""
    config = sync_config().stripe
    settings = stripe.execution_settings(config)
    reader = RetryingReader(stripe.get_client(config), RetryBudget(settings.retry_budget_seconds), settings.max_attempts)
    with duckdb.get_connection() as conn:
        warehouse.prepare(conn)
        wanted = desired.load(conn)
        found = fetch_actual(reader, wanted, ledger.ids(conn), concurrency=settings.concurrency)
        missing = {item.ref for item in found if item.state == "missing"}
        present = {item.ref: item.stripe_id for item in found if item.state == "found" and item.stripe_id}
        orphans = find_orphans(reader, [obj for obj in wanted if obj.address in missing], present)
        found = [
            ActualObject(item.ref, orphans[item.ref]["id"], "found", orphans[item.ref]) if item.ref in orphans else item
            for item in found
        ]
        actual.write(conn, context.run.run_id, found)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(found),
            "objects_by_state": dg.MetadataValue.json(dict(Counter(item.state for item in found))),
            "adopted_by_sync_key": len(orphans),
        }
    )


@dg.asset(
    key=SYNC_PLAN,
    deps=[ACTUAL_STATE],
    kinds={"duckdb"},
    check_specs=[
        dg.AssetCheckSpec(
            PLAN_LIMITS_CHECK,
            asset=SYNC_PLAN,
            blocking=True,
            description="Guards Stripe against run-wide hazards: at most `limits.max_operations_per_run` operations. "
            "A failure stops the run before any write; the plan is stored whole either way. (Destructive changes "
            "are not a run-wide hazard: while `limits.allow_destructive` is false, the contracts needing one are "
            "withheld from the plan, each with an error, and the others sync.)",
        )
    ],
    **PARTITIONED,
)
def sync_plan(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
    """The diff between desired and actual Stripe state: one row per create, update, archive or cancel, each with
    its payload hash and a deterministic idempotency key, less the operations of contracts that need a destructive
    change while `limits.allow_destructive` is false (each gets a note, reported as an error on its orders). A dry
    run stops here."""
    limits = sync_config().limits
    with duckdb.get_connection() as conn:
        warehouse.prepare(conn)
        full = build_plan(
            desired.load(conn), actual.bodies(conn), config=sync_config(), now=int(clock.now().timestamp())
        )
        planned = withhold_destructive(full, limits)
        plan.write(conn, run_id=context.run.run_id, partition=_partition_label(context), plan=planned)
        rejected = validation.quarantined_count(conn)

    operations = planned.operations
    summary = Counter(f"would_{op.operation}" for op in operations)
    by_object = Counter(f"{op.operation} {op.stripe_object}" for op in operations)
    problems = run_limit_problems(operations, limits)
    withheld = len(full.operations) - len(operations)
    sample = [
        {"op": op.operation, "object": op.stripe_object, "sf": f"{op.sf_object} {op.sf_id}", "stripe_id": op.stripe_id}
        for op in operations
    ]
    summary_metadata = {
        "would_create": summary["would_create"],
        "would_update": summary["would_update"],
        "would_archive": summary["would_archive"],
        "would_cancel": summary["would_cancel"],
        "would_finalize": summary["would_finalize"],
        "withheld_destructive_operations": withheld,
        "rejected_contracts": rejected,
        "not_synced_notes": len(planned.notes),
    }
    return dg.MaterializeResult(
        metadata={
            **summary_metadata,
            "notes": _markdown([{"sf": f"{n.sf_object} {n.sf_id}", "message": n.message} for n in planned.notes]),
            "dagster/row_count": len(operations),
            "operations_by_object": dg.MetadataValue.json(dict(by_object)),
            "plan_sample": _markdown(sample),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=PLAN_LIMITS_CHECK,
                passed=not problems,
                # A dry run applies nothing, so the plan is reported whole and the run ends normally.
                severity=dg.AssetCheckSeverity.WARN if _dry_run(context) else dg.AssetCheckSeverity.ERROR,
                description="; ".join(problems) or "Plan within limits.",
                metadata={**summary_metadata, "operations": len(operations)},
            )
        ],
    )


@dg.asset(
    key=APPLIED_SYNC,
    deps=[SYNC_PLAN],
    kinds={"stripe", "salesforce", "duckdb"},
    pool="stripe_api",
    check_specs=[
        dg.AssetCheckSpec(
            SYNC_ERRORS_CHECK,
            asset=APPLIED_SYNC,
            description="Every Stripe write and Salesforce write-back of the run succeeded.",
        )
    ],
    **PARTITIONED,
)
def applied_sync(
    context: dg.AssetExecutionContext,
    duckdb: DuckDBResource,
    stripe: StripeResource,
    salesforce: SalesforceResource,
) -> dg.MaterializeResult:
    """Executes the plan in dependency order, writes Stripe ids back to Salesforce, upserts one `Sync_Record__c`
    per order, and appends every write and rejection to `sync.sync_records` (see `sf_stripe_pipeline/apply.py`)."""
    sf_client = salesforce.get_client()
    stripe_config = sync_config().stripe
    with duckdb.get_connection() as conn:
        warehouse.prepare(conn)
        report = apply_plan(
            conn,
            stripe.get_client(stripe_config),
            sf_client,
            run_id=context.run.run_id,
            partition=_partition_label(context),
            retention_keep=sync_config().retention.salesforce_sync_records,
            now=datetime.now(UTC),
            settings=stripe.execution_settings(stripe_config),
        )

    statuses = Counter(f"{row['operation']} {row['status']}" for row in report.audit_rows)
    errors = [row for row in report.audit_rows if row["status"] != "success"]
    metadata = {
        "stripe_writes": sum(1 for outcome in report.outcomes if outcome.idempotency_key is not None),
        "stripe_errors": len(report.stripe_errors),
        **{f"stripe_{name}": count for name, count in report.counts.items()},
        "first_error": report.first_error or "none",
        "salesforce_write_backs": len(report.write_backs),
        "sync_records_upserted": report.sync_records_upserted,
        "sync_records_deleted_by_retention": report.retention_deleted,
        "rejected_contracts": len(report.quarantined),
        "counts_by_operation_and_status": dg.MetadataValue.json(dict(statuses)),
        "errors": _markdown(errors),
        **salesforce.api_usage(sf_client),
    }
    return dg.MaterializeResult(
        metadata=metadata,
        check_results=[
            dg.AssetCheckResult(
                check_name=SYNC_ERRORS_CHECK,
                passed=not report.stripe_errors and not report.failed_salesforce_writes,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={
                    "stripe_errors": len(report.stripe_errors),
                    "salesforce_write_failures": len(report.failed_salesforce_writes),
                },
            )
        ],
    )
