"""Sync: from the extracted Salesforce org to Stripe, for a run's scope (a window of days, UTC, or chosen orders:
`defs/sync/scope.py`).

    salesforce/* ─▶ validated_contracts ─▶ desired_stripe_state ─▶ actual_stripe_state ─▶ sync_plan ─▶ applied_sync

A window syncs every contract (an initial order plus its amendments) that was activated or changed in it: an
order's activation, or the last change of the order, its lines, its quote or its coupon snapshots
(`SystemModstamp`/`LastModifiedDate`) falls in the window (see core/contracts.py). It syncs from current Salesforce
and current Stripe state, so replaying a day is safe and days can run in any order. A manual sync names orders
instead (`SyncScopeConfig.order_ids`). Every materialization's `scope` metadata says which.

Within a contract, orders sync in order: when an amendment fails validation, the initial order and the amendments
before it still sync, the failing one gets its errors and the later ones wait (core/rules.py).

Each asset keeps its latest result in a DuckDB table of the `sync` schema (one module per table in
`sf_stripe_pipeline/warehouse/`); the translation and the diff are pure functions in `sf_stripe_pipeline.core`, and
applying a plan is `sf_stripe_pipeline/apply.py`, so these assets only wire them together and report metadata.
A dry run materializes everything up to `sync_plan` and stops there.
"""

# No `from __future__ import annotations` here: Dagster reads the config and resource annotations at load time.
import functools
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import dagster as dg
from dagster_duckdb import DuckDBResource
from duckdb import DuckDBPyConnection
from simple_salesforce import Salesforce

from sf_stripe_pipeline import clock, warehouse
from sf_stripe_pipeline.apply import apply_plan
from sf_stripe_pipeline.core import (
    Contract,
    DesiredObject,
    OrgSnapshot,
    Violation,
    build_contracts,
    build_plan,
    contracts_in_scope,
    contracts_of,
    merge_desired,
    polled_contracts,
)
from sf_stripe_pipeline.core.assessment_inputs import (
    AssessmentBatches,
    StoredInputs,
    assess_changed_in_batches,
    code_version,
    validation_basis,
)
from sf_stripe_pipeline.core.limits import withhold_destructive
from sf_stripe_pipeline.core.rules import STRIPE_ID_OBJECTS, shared_record_violations
from sf_stripe_pipeline.core.schemas import SCHEMAS
from sf_stripe_pipeline.core.unchanged import desired_digest, unchanged_objects
from sf_stripe_pipeline.defs.config import sync_config
from sf_stripe_pipeline.defs.metadata import records_table, table_metadata
from sf_stripe_pipeline.defs.salesforce.assets import EXTRACT_KEYS
from sf_stripe_pipeline.defs.salesforce.resources import SalesforceResource
from sf_stripe_pipeline.defs.stripe.resources import StripeResource
from sf_stripe_pipeline.defs.sync.scope import (
    SCOPE_METADATA,
    SyncScope,
    SyncScopeConfig,
    is_manual,
    latest_scope_label,
    resolve_scope,
    window_scope_of,
)
from sf_stripe_pipeline.salesforce.catalogue import SOBJECTS
from sf_stripe_pipeline.salesforce.extract import extract_object
from sf_stripe_pipeline.salesforce.writes import WriteResult
from sf_stripe_pipeline.stripe.reads import ActualObject, fetch_actual, find_orphans
from sf_stripe_pipeline.stripe.retry import RetryBudget, RetryingReader
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

REJECTION_COLUMNS = ["contract", "order", "rule", "record", "message"]
PLAN_COLUMNS = ["seq", "operation", "object", "record", "stripe_id"]
NOTE_COLUMNS = ["record", "message"]
MODE_TAG, DRY_RUN_MODE = "sf_stripe/mode", "dry_run"
"""The run tag the jobs set (defs/jobs.py); a dry run stops at the plan."""

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


def rejection_rows(broken: Iterable[tuple[str, str | None, Violation]]) -> list[dict[str, str | None]]:
    """One row per rule a failing order breaks: (contract key, failing order id, violation) as table rows."""
    return [
        {"contract": key, "order": order_id, "rule": v.rule, "record": f"{v.sf_object} {v.sf_id}",
         "message": v.message}
        for key, order_id, v in broken
    ]


def _instance_url(salesforce: SalesforceResource) -> str:
    return f"https://{salesforce.get_client().sf_instance}"


def _assess_changed(
    conn: DuckDBPyConnection,
    contracts: list[Contract],
    org_snapshot: OrgSnapshot,
    instance_url: str,
    stored: Mapping[str, StoredInputs],
) -> AssessmentBatches:
    return assess_changed_in_batches(
        contracts,
        org_snapshot,
        sync_config(),
        today=clock.now().date(),
        instance_url=instance_url,
        stored_schema_failures=org.stored_schema_failures(conn, list(SCHEMAS)),
        stored_inputs=stored,
        shared_by_id=shared_record_violations(org.stripe_id_sharers(conn, STRIPE_ID_OBJECTS)),
    )


ORG_WHOLE, ORG_ON_DEMAND, ORG_NOT_READ = "whole", "on demand", "not read"
"""How a validation read the extracted org (`org_read` metadata)."""
ON_DEMAND_SHARE = 1 / 500
"""A window whose changed orders are at most this share of the org's is assessed reading the org on demand: a
contract's records cost a few dozen queries (about 70 ms at 10k and at 100k orders), about what loading 500 orders'
records whole costs (the whole 100k org loads in about 14 s)."""


def _scope_contracts(conn: DuckDBPyConnection, scope: SyncScope) -> tuple[OrgSnapshot, list[Contract]]:
    """The org as the run reads it, and the contracts in `scope`. A manual sync names its orders, and a narrow
    window's changed orders are found in SQL (a live sync between changes): their contracts are found from them and
    the org is read as their assessment asks (`WarehouseOrg`), so syncing one order costs what that order reads,
    however large the org. A wide window (a backfill, a first sync) loads the org."""
    chosen = scope.order_ids
    if chosen is None and scope.window is not None and not sync_config().account_polling:
        changed = org.orders_changed_in(conn, scope.window)
        chosen = changed if len(changed) <= ON_DEMAND_SHARE * org.record_count(conn, "Order") else None
    if chosen is not None:
        on_demand = org.WarehouseOrg(conn)
        contracts = contracts_in_scope(
            contracts_of(on_demand, chosen), on_demand, window=scope.window, order_ids=scope.order_ids
        )
        return on_demand, contracts
    org_snapshot = org.load_org(conn)
    every_contract = build_contracts(org_snapshot)
    contracts = contracts_in_scope(every_contract, org_snapshot, window=scope.window)
    if sync_config().account_polling and scope.window is not None:
        contracts += polled_contracts(every_contract, org_snapshot, scope.window, selected=contracts)
    return org_snapshot, contracts


def _digest_under(stripe: StripeResource) -> Callable[[DesiredObject], str]:
    """How a run digests a desired object (core/unchanged.py): under the run's config, for the Stripe it writes to."""
    return functools.partial(desired_digest, config=sync_config(), stripe_target=stripe.target)


SETTLE_SHARE = 0.1
"""Settling extracts and validates again, which costs about what assessing a tenth of the org's contracts again
costs: a run settles its write-backs when they number at least this share of the org's orders (a first sync, a
backfill), and leaves a few (one new order) to the next run."""


def _settle_write_backs(
    conn: DuckDBPyConnection,
    salesforce: SalesforceResource,
    sf_client: Salesforce,
    write_backs: Iterable[WriteResult],
    *,
    run_id: str,
    scope_label: str,
) -> int:
    """A run's own Salesforce writes (Stripe ids written back, coupon snapshots created) change records that
    assessments read (a synced order is drafted as applied, an object keeps the id written on its record): every
    contract a first sync wrote to would be assessed again by the next run. Instead, once its writes are done, the
    run extracts what changed and validates its scope again, as the next run would, and merges the desired objects
    again, so the next run finds the org, the validation and the desired table as it left them (SETTLE_SHARE says
    when). A manual sync's contracts are assessed afresh by every run that names them: it does not settle. Returns
    how many contracts were assessed."""
    written = sum(1 for result in write_backs if result.success)
    if is_manual(scope_label) or not written or written < SETTLE_SHARE * org.record_count(conn, "Order"):
        return 0
    filters = sync_config().filters
    for sobject in SOBJECTS:
        salesforce.check_api_budget(sf_client)
        extract_object(sf_client, conn, sobject, where=filters.get(sobject), run_id=run_id)
    desired.release(conn)  # the run's desired objects are merged again below; the org is loaded meanwhile
    instance_url = f"https://{sf_client.sf_instance}"
    scope = window_scope_of(scope_label)
    validated = _validate(conn, scope, _validation_basis(conn, scope, instance_url), run_id, instance_url)
    _merge_desired(conn, run_id)  # as the next run would merge them, so it keeps the table
    return validated.assessed


def _validation_basis(conn: DuckDBPyConnection, scope: SyncScope, instance_url: str) -> str | None:
    """What a validation of `scope` is made from now; None for a manual sync (assessed afresh, never kept whole)."""
    if is_manual(scope.label):
        return None
    return validation_basis(
        sync_config(),
        today=clock.now().date(),
        instance_url=instance_url,
        scope_label=scope.label,
        org_fingerprint=org.fingerprint(conn),
    )


class _Validated(NamedTuple):
    in_scope: int
    assessed: int
    unchanged: int
    org_read: str
    """How the org was read: ORG_WHOLE (loaded), ORG_ON_DEMAND (`WarehouseOrg`: the records the contracts read) or
    ORG_NOT_READ (the validation stood whole)."""


def _validate(
    conn: DuckDBPyConnection, scope: SyncScope, basis: str | None, run_id: str, instance_url: str
) -> _Validated:
    """Assess the contracts of `scope` whose inputs changed (all of them in a manual sync) and store the validation,
    made from `basis`."""
    org_snapshot, contracts = _scope_contracts(conn, scope)
    # A manual sync assesses its contracts afresh: it is how a user asks for a fresh comparison.
    stored = {} if is_manual(scope.label) else validation.stored_inputs(conn, [c.key for c in contracts])
    assessed = _assess_changed(conn, contracts, org_snapshot, instance_url, stored)
    assessed_count = validation.write(
        conn, run_id=run_id, partition=scope.label, contracts=contracts, batches=assessed.batches, basis=basis
    )
    org_read = ORG_ON_DEMAND if isinstance(org_snapshot, org.WarehouseOrg) else ORG_WHOLE
    return _Validated(len(contracts), assessed_count, len(assessed.unchanged), org_read)


@dg.asset(key=VALIDATED_CONTRACTS, deps=list(EXTRACT_KEYS.values()), kinds={"duckdb"}, **SYNC_ASSET)
def validated_contracts(
    context: dg.AssetExecutionContext, config: SyncScopeConfig, duckdb: DuckDBResource, salesforce: SalesforceResource
) -> dg.MaterializeResult:
    """The contracts in scope, each assessed once: the orders that sync (and their desired Stripe objects), the
    order that fails with every rule it breaks (schemas, business rules, what Stripe would refuse), and the orders
    that wait for it or are deleted in Salesforce. A contract whose inputs are what its last assessment read keeps
    that assessment (core/assessment_inputs.py, `sync.contract_assessments`); when the org, the scope, the config,
    the day and the code are all those the latest validation was made from, it stands whole, the org unread. A
    manual sync assesses its contracts again."""
    instance_url = _instance_url(salesforce)
    with duckdb.get_connection() as conn:
        warehouse.prepare(conn)
        scope = resolve_scope(config, context.run.tags, org.record_ids(conn, "Order"))
        basis = _validation_basis(conn, scope, instance_url)
        kept = validation.holds_basis(conn, basis) if basis is not None else None
        if kept is not None:
            validation.keep(conn, context.run.run_id)
            validated = _Validated(kept, 0, kept, ORG_NOT_READ)
        else:
            validated = _validate(conn, scope, basis, context.run.run_id, instance_url)
        failing = validation.verdicts(conn, failing_only=True)
        by_status = Counter(validation.status_counts(conn))
        table = table_metadata(conn, validation.VIEW)

    broken = [(v.contract.key, v.failing_order_id, found) for v in failing for found in v.violations]
    return dg.MaterializeResult(
        metadata={
            SCOPE_METADATA: scope.label,
            "contracts_in_scope": validated.in_scope,
            "contracts_assessed": validated.assessed,
            "contracts_unchanged": validated.unchanged,
            "validation_kept_whole": kept is not None,
            "org_read": validated.org_read,
            "valid_contracts": by_status[validation.VALID],
            "partly_synced_contracts": by_status[validation.PARTIAL],
            "quarantined_contracts": by_status[validation.QUARANTINED],
            "deleted_contracts": by_status[validation.DELETED],
            "failing_orders": len(failing),
            "waiting_orders": sum(1 for verdict in failing for _, why in verdict.skipped if why.startswith("Waiting")),
            "violations_by_rule": dg.MetadataValue.json(dict(Counter(v.rule for _, _, v in broken))),
            "rejections": records_table(rejection_rows(broken), REJECTION_COLUMNS),
            **table,
        },
    )


def _merge_desired(conn: DuckDBPyConnection, run_id: str) -> None:
    """Merge the objects of the syncing contracts in scope into `sync.desired_objects`, unless the table is merged
    from them already."""
    # What the table is merged from: the contracts' objects and links, by this code.
    merged_from = f"{code_version()}:{validation.syncing_digest(conn)}"
    if desired.merged_from(conn) == merged_from:
        desired.keep(conn, run_id)
    else:
        objects_by_contract, links = validation.syncing_objects(conn)
        # The coupon links are what applied_sync needs for the coupon snapshots and write-backs (F43/F44).
        desired.write(conn, run_id, merge_desired(objects_by_contract), links, merged_from)


@dg.asset(key=DESIRED_STATE, deps=[VALIDATED_CONTRACTS], kinds={"duckdb"}, **SYNC_ASSET)
def desired_stripe_state(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
    """The Stripe objects that Salesforce plus the mapping config imply for the synced orders in scope: customers,
    products, prices, coupons, subscription schedules, subscriptions and invoices, with symbolic references between
    them; each contract's objects as validation drafted them, merged (one customer per account, one price per
    PricebookEntry...). When the contracts' objects are those the table was merged from (no contract in scope was
    assessed again, or none changed), the table stands as it is."""
    with duckdb.get_connection() as conn:
        warehouse.prepare(conn)
        _merge_desired(conn, context.run.run_id)
        counts = desired.counts_by_type(conn)
        by_status = validation.status_counts(conn)
        table = table_metadata(conn, desired.TABLE.qualified)
    return dg.MaterializeResult(
        metadata={
            SCOPE_METADATA: _scope_label(context),
            **table,
            "objects_by_type": dg.MetadataValue.json(counts),
            "contracts": sum(by_status.get(status, 0) for status in validation.SYNCING),
        }
    )


@dg.asset(key=ACTUAL_STATE, deps=[DESIRED_STATE], kinds={"stripe", "duckdb"}, pool="stripe_api", **SYNC_ASSET)
def actual_stripe_state(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource, stripe: StripeResource
) -> dg.MaterializeResult:
    """The Stripe objects behind the desired ones, read by the ledger's ids or the Stripe ids written on the
    Salesforce records (adoption); those neither names are looked for by their `salesforce_sync_key` metadata
    (objects an earlier attempt created without the pipeline learning their id: after a crash, or with the
    warehouse rebuilt), so the plan adopts them instead of creating them twice. Except in a manual sync, the objects
    of contracts unchanged since they were last in sync are not read (`unchanged`, core/unchanged.py): the drift
    check finds hand edits to them."""
    config = sync_config().stripe
    settings = stripe.execution_settings(config)
    reader = RetryingReader(stripe.get_client(config), RetryBudget(settings.retry_budget_seconds), settings.max_attempts)
    with duckdb.get_connection() as conn:
        warehouse.prepare(conn)
        wanted = desired.load(conn)
        digest = _digest_under(stripe)
        digests = {obj.address: digest(obj) for obj in wanted}
        entries = ledger.entries(conn, list(digests))
        # A manual sync compares its contracts with Stripe whatever their last sync left: it is how a user asks.
        unchanged = {} if is_manual(_scope_label(context)) else unchanged_objects(wanted, digests, entries)
        to_read = [obj for obj in wanted if obj.address not in unchanged]
        known_ids = {address: entry.stripe_id for address, entry in entries.items()}
        found = fetch_actual(reader, to_read, known_ids, concurrency=settings.concurrency)
        missing = {item.ref for item in found if item.state == "missing"}
        present = {item.ref: item.stripe_id for item in found if item.state == "found" and item.stripe_id}
        orphans = find_orphans(reader, [obj for obj in to_read if obj.address in missing], {**unchanged, **present})
        found = [
            ActualObject(item.ref, orphans[item.ref]["id"], "found", orphans[item.ref]) if item.ref in orphans else item
            for item in found
        ]
        actual.write(conn, context.run.run_id, found, unchanged, digests)
        table = table_metadata(conn, actual.TABLE.qualified)
    states = Counter(item.state for item in found)
    states[actual.UNCHANGED] = len(unchanged)
    return dg.MaterializeResult(
        metadata={
            SCOPE_METADATA: _scope_label(context),
            **table,
            "objects_by_state": dg.MetadataValue.json(dict(states)),
            "objects_read": len(found),
            "adopted_by_sync_key": len(orphans),
        }
    )


@dg.asset(key=SYNC_PLAN, deps=[ACTUAL_STATE], kinds={"duckdb"}, **SYNC_ASSET)
def sync_plan(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
    """The diff between desired and actual Stripe state: one row per create, update, archive or cancel, each with
    its payload hash and a deterministic idempotency key, less the operations of contracts that need a destructive
    change while `limits.allow_destructive` is false (each gets a note, reported as an error on its orders). A dry
    run stops here."""
    with duckdb.get_connection() as conn:
        warehouse.prepare(conn)
        full = build_plan(
            desired.load(conn),
            actual.bodies(conn),
            config=sync_config(),
            now=int(clock.now().timestamp()),
            unchanged=actual.unchanged_ids(conn),
        )
        planned = withhold_destructive(full, sync_config().limits)
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
            "withheld_destructive_operations": len(full.operations) - len(operations),
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
    stripe_config = sync_config().stripe
    with duckdb.get_connection() as conn:
        warehouse.prepare(conn)
        report = apply_plan(
            conn,
            stripe.get_client(stripe_config),
            sf_client,
            run_id=context.run.run_id,
            partition=_scope_label(context),
            retention_keep=sync_config().retention.salesforce_sync_records,
            now=datetime.now(UTC),
            digest=_digest_under(stripe),
            settings=stripe.execution_settings(stripe_config),
        )
        try:
            settled = _settle_write_backs(
                conn,
                salesforce,
                sf_client,
                report.write_backs,
                run_id=context.run.run_id,
                scope_label=_scope_label(context),
            )
        except Exception as error:  # it only spares the next run work: what it left undone, that run assesses
            context.log.warning(f"Settling this run's write-backs failed; the next sync assesses them: {error!r}")
            settled = 0
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
            "failed": sum(status_counts[status] for status in audit.FAILED_STATUSES),
            "skipped": status_counts["skipped"],
            "rejected": len(report.quarantined),
            "stripe_operations": dg.MetadataValue.json(dict(stripe_operations)),
            "stripe_writes": sum(1 for outcome in report.outcomes if outcome.idempotency_key is not None),
            **{f"stripe_{name}": count for name, count in report.counts.items()},
            "first_error": report.first_error or "none",
            "salesforce_write_backs": len(report.write_backs),
            "contracts_settled": settled,
            "sync_records_upserted": report.sync_records_upserted,
            "sync_records_deleted_by_retention": report.retention_deleted,
            **table,
            **salesforce.api_usage(sf_client),
        },
    )
