"""Sync: from the extracted Salesforce org to Stripe, for a run's scope (a window of `Order.ActivatedDate` days, or
chosen orders: `defs/sync/scope.py`).

    salesforce/* ─▶ validated_contracts ─▶ desired_stripe_state ─▶ actual_stripe_state ─▶ sync_plan ─▶ applied_sync

A window syncs every contract (an initial order plus its amendments) that has an order activated in it, from
current Salesforce and current Stripe state, so replaying a day is safe and days can run in any order. A manual
sync names orders instead (`SyncScopeConfig.order_ids`). Every materialization's `scope` metadata says which.

Each asset keeps its latest result in a DuckDB table of the `sync` schema (one module per table in
`sf_stripe_pipeline/warehouse/`); the translation and the diff are pure functions in `sf_stripe_pipeline.core`, and
applying a plan is `sf_stripe_pipeline/apply.py`, so these assets only wire them together and report metadata.
A dry run materializes everything up to `sync_plan` and stops there.
"""

# No `from __future__ import annotations` here: Dagster reads the config and resource annotations at load time.
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import dagster as dg
from dagster_duckdb import DuckDBResource

from sf_stripe_pipeline import clock, warehouse
from sf_stripe_pipeline.apply import apply_plan
from sf_stripe_pipeline.core import (
    Violation,
    assess_contracts,
    build_contracts,
    build_plan,
    contracts_in_scope,
    desired_state,
)
from sf_stripe_pipeline.defs.config import sync_config
from sf_stripe_pipeline.defs.metadata import records_table, table_metadata
from sf_stripe_pipeline.defs.salesforce.assets import EXTRACT_KEYS
from sf_stripe_pipeline.defs.salesforce.resources import SalesforceResource
from sf_stripe_pipeline.defs.stripe.resources import StripeResource
from sf_stripe_pipeline.defs.sync.scope import SCOPE_METADATA, SyncScopeConfig, latest_scope_label, resolve_scope
from sf_stripe_pipeline.stripe.reads import fetch_actual
from sf_stripe_pipeline.warehouse import actual, audit, desired, ledger, org, plan, validation


GROUP = "sync"
VALIDATED_CONTRACTS = dg.AssetKey([GROUP, "validated_contracts"])
DESIRED_STATE = dg.AssetKey([GROUP, "desired_stripe_state"])
ACTUAL_STATE = dg.AssetKey([GROUP, "actual_stripe_state"])
SYNC_PLAN = dg.AssetKey([GROUP, "sync_plan"])
APPLIED_SYNC = dg.AssetKey([GROUP, "applied_sync"])

# Their asset checks are in defs/sync/checks.py.
QUARANTINE_CHECK = "no_quarantined_contracts"
PLAN_LIMITS_CHECK = "plan_within_limits"
SYNC_ERRORS_CHECK = "no_sync_errors"

REJECTION_COLUMNS = ["contract", "rule", "record", "message"]
PLAN_COLUMNS = ["seq", "operation", "object", "record", "stripe_id"]
NOTE_COLUMNS = ["record", "message"]
SYNC_ASSET = {
    # Unpartitioned (see defs/sync/scope.py), yet part of partition-range runs: `dg launch --partition-range`
    # requires a single-run backfill policy on every asset of the job.
    "backfill_policy": dg.BackfillPolicy.single_run(),
    "group_name": GROUP,
}


def _scope_label(context: dg.AssetExecutionContext) -> str:
    return latest_scope_label(context.instance, VALIDATED_CONTRACTS)


def live_sync_freshness() -> dg.FreshnessPolicy | None:
    """While live sync is on, `applied_sync` turns yellow after one missed interval and red after two, so a stalled
    live sync shows in the UI (the dagster-daemon evaluates it). Off, no policy: it would be permanently red.
    Any materialization resets it, a manual sync too."""
    live = sync_config().live_sync
    if not live.enabled:
        return None
    every = timedelta(minutes=live.interval_minutes)
    grace = timedelta(minutes=5)  # a run's own duration
    return dg.FreshnessPolicy.time_window(fail_window=2 * every + grace, warn_window=every + grace)


def rejection_rows(broken: Iterable[tuple[str, Violation]]) -> list[dict[str, str]]:
    """One row per rule a quarantined contract breaks: (contract key, violation) pairs as table rows."""
    return [
        {"contract": key, "rule": v.rule, "record": f"{v.sf_object} {v.sf_id}", "message": v.message}
        for key, v in broken
    ]


def _instance_url(salesforce: SalesforceResource) -> str:
    return f"https://{salesforce.get_client().sf_instance}"


@dg.asset(key=VALIDATED_CONTRACTS, deps=list(EXTRACT_KEYS.values()), kinds={"duckdb"}, **SYNC_ASSET)
def validated_contracts(
    context: dg.AssetExecutionContext, config: SyncScopeConfig, duckdb: DuckDBResource
) -> dg.MaterializeResult:
    """The contracts in scope, each valid or quarantined with every rule it breaks (schemas and business rules)."""
    with duckdb.get_connection() as conn:
        warehouse.prepare(conn)
        org_snapshot = org.load_org(conn)
        scope = resolve_scope(config, context.run.tags, {order["Id"] for order in org_snapshot.records("Order")})
        contracts = contracts_in_scope(
            build_contracts(org_snapshot), org_snapshot, window=scope.window, order_ids=scope.order_ids
        )
        assessments = assess_contracts(contracts, org_snapshot, sync_config(), today=clock.now().date())
        violations = {key: assessment.violations for key, assessment in assessments.items()}
        validation.write(
            conn, run_id=context.run.run_id, partition=scope.label, contracts=contracts,
            violations=violations,
        )
        table = table_metadata(conn, validation.TABLE.qualified)

    broken = [(key, v) for key, found in violations.items() for v in found]
    quarantined = sum(1 for found in violations.values() if found)
    return dg.MaterializeResult(
        metadata={
            SCOPE_METADATA: scope.label,
            "contracts_in_scope": len(contracts),
            "valid_contracts": len(contracts) - quarantined,
            "quarantined_contracts": quarantined,
            "violations_by_rule": dg.MetadataValue.json(dict(Counter(v.rule for _, v in broken))),
            "rejections": records_table(rejection_rows(broken), REJECTION_COLUMNS),
            **table,
        },
    )


@dg.asset(key=DESIRED_STATE, deps=[VALIDATED_CONTRACTS], kinds={"duckdb"}, **SYNC_ASSET)
def desired_stripe_state(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource, salesforce: SalesforceResource
) -> dg.MaterializeResult:
    """The Stripe objects that Salesforce plus the mapping config imply for the valid contracts in scope:
    customers, products, prices and subscription schedules, with symbolic references between them."""
    instance_url = _instance_url(salesforce)
    with duckdb.get_connection() as conn:
        warehouse.prepare(conn)
        valid_keys = validation.valid_keys(conn)
        org_snapshot = org.load_org(conn)
        contracts = [contract for contract in build_contracts(org_snapshot) if contract.key in valid_keys]
        today = clock.now().date()
        # Assessed once here: the desired objects, and the coupon links applied_sync needs for write-backs (F43/F44).
        assessments = assess_contracts(contracts, org_snapshot, sync_config(), today=today, instance_url=instance_url)
        objects = desired_state(
            contracts, org_snapshot, sync_config(), today=today, instance_url=instance_url, assessments=assessments
        )
        links = [link for assessment in assessments.values() for link in assessment.coupon_links]
        desired.write_coupon_links(conn, context.run.run_id, links)
        desired.write(conn, context.run.run_id, objects)
        table = table_metadata(conn, desired.TABLE.qualified)
    counts = Counter(obj.stripe_object for obj in objects)
    return dg.MaterializeResult(
        metadata={
            SCOPE_METADATA: _scope_label(context),
            **table,
            "objects_by_type": dg.MetadataValue.json(dict(counts)),
            "contracts": len(valid_keys),
        }
    )


@dg.asset(key=ACTUAL_STATE, deps=[DESIRED_STATE], kinds={"stripe", "duckdb"}, pool="stripe_api", **SYNC_ASSET)
def actual_stripe_state(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource, stripe: StripeResource
) -> dg.MaterializeResult:
    """The Stripe objects behind the desired ones, read by the ledger's ids or the Stripe ids written on the
    Salesforce records (adoption)."""
    client = stripe.get_client()
    with duckdb.get_connection() as conn:
        warehouse.prepare(conn)
        found = fetch_actual(client, desired.load(conn), ledger.ids(conn))
        actual.write(conn, context.run.run_id, found)
        table = table_metadata(conn, actual.TABLE.qualified)
    return dg.MaterializeResult(
        metadata={
            SCOPE_METADATA: _scope_label(context),
            **table,
            "objects_by_state": dg.MetadataValue.json(dict(Counter(item.state for item in found))),
        }
    )


@dg.asset(key=SYNC_PLAN, deps=[ACTUAL_STATE], kinds={"duckdb"}, **SYNC_ASSET)
def sync_plan(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
    """The diff between desired and actual Stripe state: one row per create, update, archive or cancel, each with
    its payload hash and a deterministic idempotency key. A dry run stops here."""
    with duckdb.get_connection() as conn:
        warehouse.prepare(conn)
        planned = build_plan(
            desired.load(conn), actual.bodies(conn), config=sync_config(), now=int(clock.now().timestamp())
        )
        plan.write(conn, run_id=context.run.run_id, partition=_scope_label(context), plan=planned)
        rejected = validation.quarantined_count(conn)
        table = table_metadata(conn, plan.TABLE.qualified)

    operations = planned.operations
    summary = Counter(f"would_{op.operation}" for op in operations)
    planned_rows = [
        {"seq": op.seq, "operation": op.operation, "object": op.stripe_object, "record": f"{op.sf_object} {op.sf_id}",
         "stripe_id": op.stripe_id}
        for op in operations
    ]
    notes = [{"record": f"{n.sf_object} {n.sf_id}", "message": n.message} for n in planned.notes]
    return dg.MaterializeResult(
        metadata={
            SCOPE_METADATA: _scope_label(context),
            **{name: summary[name] for name in ("would_create", "would_update", "would_archive", "would_cancel",
                                                "would_finalize")},
            "rejected_contracts": rejected,
            "operations_by_object": dg.MetadataValue.json(
                dict(Counter(f"{op.operation} {op.stripe_object}" for op in operations))
            ),
            "plan": records_table(planned_rows, PLAN_COLUMNS),
            "not_synced_notes": len(planned.notes),
            "notes": records_table(notes, NOTE_COLUMNS),
            **table,
        },
    )


@dg.asset(
    key=APPLIED_SYNC,
    deps=[SYNC_PLAN],
    kinds={"stripe", "salesforce", "duckdb"},
    pool="stripe_api",
    freshness_policy=live_sync_freshness(),
    **SYNC_ASSET,
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
    with duckdb.get_connection() as conn:
        warehouse.prepare(conn)
        report = apply_plan(
            conn,
            stripe.get_client(),
            sf_client,
            run_id=context.run.run_id,
            partition=_scope_label(context),
            retention_keep=sync_config().retention.salesforce_sync_records,
            now=datetime.now(UTC),
        )
        table = table_metadata(conn, audit.TABLE.qualified)

    # `rejected`: contracts validation stopped; `failed`: operations the APIs refused (no_sync_errors fails on them).
    rows = [row for row in report.audit_rows if row["operation"] != "reject"]
    status_counts = Counter(row["status"] for row in rows)
    stripe_operations = Counter(
        f"{o.operation.operation} {o.operation.stripe_object} ({o.status})" for o in report.outcomes
    )
    return dg.MaterializeResult(
        metadata={
            SCOPE_METADATA: _scope_label(context),
            "operations": len(rows),
            "applied": status_counts["success"],
            "failed": status_counts["error"],
            "skipped": status_counts["skipped"],
            "rejected": len(report.quarantined),
            "stripe_operations": dg.MetadataValue.json(dict(stripe_operations)),
            "salesforce_write_backs": len(report.write_backs),
            "sync_records_upserted": report.sync_records_upserted,
            "sync_records_deleted_by_retention": report.retention_deleted,
            **table,
            **salesforce.api_usage(sf_client),
        },
    )
