"""Sync: from the extracted Salesforce org to Stripe, one daily partition of `Order.ActivatedDate` at a time.

    salesforce/* ─▶ validated_contracts ─▶ desired_stripe_state ─▶ actual_stripe_state ─▶ sync_plan ─▶ applied_sync

A partition syncs every contract (an initial order plus its amendments) that has an order activated in its window,
from current Salesforce and current Stripe state, so replaying a partition is safe and partitions can run in any
order. A manual sync names orders instead (`SyncScopeConfig.order_ids`), and the window is then ignored.

Each asset keeps its latest result in a DuckDB table of the `sync` schema (see `warehouse.py`); the translation and
the diff are pure functions in `sf_stripe_pipeline.core`, so these assets only move data and talk to the APIs.
A dry run materializes everything up to `sync_plan` and stops there.
"""

# No `from __future__ import annotations` here: Dagster reads the config and resource annotations at load time.
import json
import warnings
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource
from pydantic import Field

from sf_stripe_pipeline import stripe_ops, sync_records, warehouse
from sf_stripe_pipeline.salesforce import writes as salesforce_ops
from sf_stripe_pipeline.defs.config import sync_config
from sf_stripe_pipeline.defs.salesforce.assets import EXTRACT_KEYS
from sf_stripe_pipeline.defs.salesforce.resources import SalesforceResource
from sf_stripe_pipeline.defs.stripe.resources import StripeResource
from sf_stripe_pipeline import clock
from sf_stripe_pipeline.salesforce.catalogue import SOBJECTS
from sf_stripe_pipeline.core import coupons
from sf_stripe_pipeline.core import (
    Contract,
    DesiredObject,
    OrgSnapshot,
    PlannedOperation,
    PlanningNote,
    Violation,
    assess_contracts,
    build_contracts,
    build_plan,
    contracts_in_scope,
    desired_state,
    validate_contracts,
)

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
WRITE_BACK_OBJECTS = frozenset({"Account", "Product2", "PricebookEntry", "Order", "OrderItem"})
ORG_OBJECTS = [sobject for sobject in SOBJECTS if sobject != "Sync_Record__c"]

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


def _window(context: dg.AssetExecutionContext) -> tuple[datetime, datetime]:
    window = context.partition_time_window
    return window.start, window.end


def _partition_label(context: dg.AssetExecutionContext) -> str:
    keys = context.partition_key_range
    return keys.start if keys.start == keys.end else f"{keys.start}...{keys.end}"


def _load_org(conn) -> OrgSnapshot:
    return OrgSnapshot(warehouse.load_records(conn, ORG_OBJECTS))


def _markdown(rows: Sequence[dict[str, Any]], limit: int = 20) -> dg.MetadataValue:
    if not rows:
        return dg.MetadataValue.md("none")
    return dg.MetadataValue.md(pd.DataFrame(list(rows)[:limit]).to_markdown(index=False))


def _valid_keys(conn) -> set[str]:
    rows = conn.execute("SELECT contract_key FROM sync.contract_validation WHERE status = 'valid'").fetchall()
    return {row[0] for row in rows}


def _instance_url(salesforce: SalesforceResource) -> str:
    return f"https://{salesforce.get_client().sf_instance}"


def _contracts_by_key(org: OrgSnapshot, keys: set[str]) -> list[Contract]:
    return [contract for contract in build_contracts(org) if contract.key in keys]


@dg.asset(
    key=VALIDATED_CONTRACTS,
    deps=list(EXTRACT_KEYS.values()),
    kinds={"duckdb"},
    check_specs=[
        dg.AssetCheckSpec(
            QUARANTINE_CHECK,
            asset=VALIDATED_CONTRACTS,
            description="Contracts breaking a schema or business rule are quarantined: they never reach Stripe, "
            "and every rule each one breaks is listed.",
        )
    ],
    **PARTITIONED,
)
def validated_contracts(
    context: dg.AssetExecutionContext, config: SyncScopeConfig, duckdb: DuckDBResource
) -> dg.MaterializeResult:
    """The contracts in scope, each valid or quarantined with every rule it breaks (schemas and business rules)."""
    with duckdb.get_connection() as conn:
        warehouse.prepare(conn)
        org = _load_org(conn)
        if config.order_ids:
            contracts = contracts_in_scope(build_contracts(org), org, order_ids=config.order_ids)
        else:
            contracts = contracts_in_scope(build_contracts(org), org, window=_window(context))
        violations = validate_contracts(contracts, org, sync_config(), today=clock.now().date())
        rows = pd.DataFrame(
            [
                {
                    "run_id": context.run.run_id,
                    "partition_key": _partition_label(context),
                    "contract_key": contract.key,
                    "order_ids": [contract.initial_order_id, *contract.amendment_order_ids],
                    "account_id": contract.account_id,
                    "status": "quarantined" if violations.get(contract.key) else "valid",
                    "violations": json.dumps([v.__dict__ for v in violations.get(contract.key, [])]),
                }
                for contract in contracts
            ],
            columns=["run_id", "partition_key", "contract_key", "order_ids", "account_id", "status", "violations"],
        )
        warehouse.replace_rows(conn, "contract_validation", rows)

    broken = [(key, v) for key, found in violations.items() for v in found]
    by_rule = Counter(violation.rule for _, violation in broken)
    quarantined = sum(1 for found in violations.values() if found)
    sample = [
        {"contract": key, "rule": v.rule, "record": f"{v.sf_object} {v.sf_id}", "message": v.message}
        for key, v in broken
    ]
    counts = {
        "contracts_in_scope": len(contracts),
        "valid_contracts": len(contracts) - quarantined,
        "quarantined_contracts": quarantined,
        "violations_by_rule": dg.MetadataValue.json(dict(by_rule)),
    }
    return dg.MaterializeResult(
        metadata={**counts, "dagster/row_count": len(contracts), "quarantine_sample": _markdown(sample)},
        check_results=[
            dg.AssetCheckResult(
                check_name=QUARANTINE_CHECK,
                passed=quarantined == 0,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={**counts, "sample": _markdown(sample)},
            )
        ],
    )


def _coupon_link_rows(run_id: str, links: Sequence[coupons.CouponLink]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "run_id": run_id,
                "address": link.address,
                "current_version": link.current_version,
                "snapshot": json.dumps(link.use.snapshot, default=str),
                "quote_coupon": json.dumps(link.use.quote_coupon, default=str),
            }
            for link in links
        ],
        columns=["run_id", "address", "current_version", "snapshot", "quote_coupon"],
    )


def _load_coupon_links(conn) -> list[coupons.CouponLink]:
    rows = warehouse.fetch_dicts(conn, "SELECT address, current_version, snapshot, quote_coupon FROM sync.coupon_links")
    return [
        coupons.CouponLink(
            coupons.CouponUse(json.loads(row["snapshot"]), json.loads(row["quote_coupon"])),
            row["address"],
            row["current_version"],
        )
        for row in rows
    ]


def _desired_from_row(row: dict[str, Any]) -> DesiredObject:
    return DesiredObject(
        stripe_object=row["stripe_object"],
        key=row["key"],
        sf_object=row["sf_object"],
        sf_id=row["sf_id"],
        params=json.loads(row["params"]),
        linked_stripe_id=row["linked_stripe_id"],
        contract_keys=tuple(row["contract_keys"] or ()),
        depends_on=tuple(row["depends_on"] or ()),
        cleared_paths=tuple(row["cleared_paths"] or ()),
        end_now=json.loads(row["end_now"]) if row.get("end_now") else None,
    )


def _load_desired(conn) -> list[DesiredObject]:
    return [_desired_from_row(row) for row in warehouse.fetch_dicts(conn, "SELECT * FROM sync.desired_objects")]


@dg.asset(key=DESIRED_STATE, deps=[VALIDATED_CONTRACTS], kinds={"duckdb"}, **PARTITIONED)
def desired_stripe_state(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource, salesforce: SalesforceResource
) -> dg.MaterializeResult:
    """The Stripe objects that Salesforce plus the mapping config imply for the valid contracts in scope:
    customers, products, prices and subscription schedules, with symbolic references between them."""
    instance_url = _instance_url(salesforce)
    with duckdb.get_connection() as conn:
        warehouse.prepare(conn)
        valid_keys = _valid_keys(conn)
        org = _load_org(conn)
        contracts = _contracts_by_key(org, valid_keys)
        today = clock.now().date()
        # Assessed once here: the desired objects, and the coupon links applied_sync needs for write-backs (F43/F44).
        assessments = assess_contracts(contracts, org, sync_config(), today=today, instance_url=instance_url)
        desired = desired_state(
            contracts, org, sync_config(), today=today, instance_url=instance_url, assessments=assessments
        )
        links = [link for assessment in assessments.values() for link in assessment.coupon_links]
        warehouse.replace_rows(conn, "coupon_links", _coupon_link_rows(context.run.run_id, links))
        rows = pd.DataFrame(
            [
                {
                    "run_id": context.run.run_id,
                    "stripe_object": obj.stripe_object,
                    "key": obj.key,
                    "sf_object": obj.sf_object,
                    "sf_id": obj.sf_id,
                    "params": json.dumps(obj.params, sort_keys=True),
                    "linked_stripe_id": obj.linked_stripe_id,
                    "contract_keys": list(obj.contract_keys),
                    "depends_on": list(obj.depends_on),
                    "cleared_paths": list(obj.cleared_paths),
                    "end_now": json.dumps(obj.end_now) if obj.end_now is not None else None,
                }
                for obj in desired
            ],
            columns=[
                "run_id", "stripe_object", "key", "sf_object", "sf_id", "params", "linked_stripe_id",
                "contract_keys", "depends_on", "cleared_paths", "end_now",
            ],
        )
        warehouse.replace_rows(conn, "desired_objects", rows)
    counts = Counter(obj.stripe_object for obj in desired)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(desired),
            "objects_by_type": dg.MetadataValue.json(dict(counts)),
            "contracts": len(valid_keys),
        }
    )


@dg.asset(key=ACTUAL_STATE, deps=[DESIRED_STATE], kinds={"stripe", "duckdb"}, pool="stripe_api", **PARTITIONED)
def actual_stripe_state(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource, stripe: StripeResource
) -> dg.MaterializeResult:
    """The Stripe objects behind the desired ones, read by the ledger's ids or the Stripe ids written on the
    Salesforce records (adoption)."""
    client = stripe.get_client()
    with duckdb.get_connection() as conn:
        warehouse.prepare(conn)
        desired = _load_desired(conn)
        actual = stripe_ops.fetch_actual(client, desired, warehouse.ledger(conn))
        rows = pd.DataFrame(
            [
                {
                    "run_id": context.run.run_id,
                    "stripe_object": found.ref.split(":", 1)[0],
                    "key": found.ref.split(":", 1)[1],
                    "stripe_id": found.stripe_id,
                    "state": found.state,
                    "object": json.dumps(found.body) if found.body is not None else None,
                }
                for found in actual
            ],
            columns=["run_id", "stripe_object", "key", "stripe_id", "state", "object"],
        )
        warehouse.replace_rows(conn, "stripe_objects", rows)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(actual),
            "objects_by_state": dg.MetadataValue.json(dict(Counter(found.state for found in actual))),
        }
    )


def _load_actual(conn) -> dict[str, dict[str, Any] | None]:
    rows = warehouse.fetch_dicts(conn, "SELECT stripe_object, key, state, object FROM sync.stripe_objects")
    return {
        f"{row['stripe_object']}:{row['key']}": json.loads(row["object"]) if row["object"] else None for row in rows
    }


@dg.asset(
    key=SYNC_PLAN,
    deps=[ACTUAL_STATE],
    kinds={"duckdb"},
    check_specs=[
        dg.AssetCheckSpec(
            PLAN_LIMITS_CHECK,
            asset=SYNC_PLAN,
            blocking=True,
            description="Guards Stripe: at most `limits.max_operations_per_run` operations, and no archive or cancel "
            "unless `limits.allow_destructive` is set. A failure stops the run before any write.",
        )
    ],
    **PARTITIONED,
)
def sync_plan(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
    """The diff between desired and actual Stripe state: one row per create, update, archive or cancel, each with
    its payload hash and a deterministic idempotency key. A dry run stops here."""
    with duckdb.get_connection() as conn:
        warehouse.prepare(conn)
        plan = build_plan(
            _load_desired(conn), _load_actual(conn), config=sync_config(), now=int(clock.now().timestamp())
        )
        operations = plan.operations
        rejected = conn.execute(
            "SELECT count(*) FROM sync.contract_validation WHERE status = 'quarantined'"
        ).fetchall()[0][0]
        rows = pd.DataFrame(
            [
                {
                    "run_id": context.run.run_id,
                    "partition_key": _partition_label(context),
                    **{name: getattr(op, name) for name in PLAN_COLUMNS},
                    "params": json.dumps(op.params, sort_keys=True),
                    "contract_keys": list(op.contract_keys),
                }
                for op in operations
            ],
            columns=["run_id", "partition_key", *PLAN_COLUMNS, "params", "contract_keys"],
        )
        warehouse.replace_rows(conn, "plan", rows)
        notes = pd.DataFrame(
            [
                {"run_id": context.run.run_id, **note.__dict__, "contract_keys": list(note.contract_keys)}
                for note in plan.notes
            ],
            columns=["run_id", *NOTE_COLUMNS],
        )
        warehouse.replace_rows(conn, "plan_notes", notes)

    summary = Counter(f"would_{op.operation}" for op in operations)
    by_object = Counter(f"{op.operation} {op.stripe_object}" for op in operations)
    limits = sync_config().limits
    destructive = [op for op in operations if op.destructive]
    problems = []
    if len(operations) > limits.max_operations_per_run:
        problems.append(
            f"{len(operations)} operations planned, more than limits.max_operations_per_run = "
            f"{limits.max_operations_per_run}"
        )
    if destructive and not limits.allow_destructive:
        problems.append(
            f"{len(destructive)} destructive operations (retiring Stripe objects still in use) planned while "
            "limits.allow_destructive is false"
        )
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
        "rejected_contracts": rejected,
        "not_synced_notes": len(plan.notes),
    }
    return dg.MaterializeResult(
        metadata={
            **summary_metadata,
            "notes": _markdown([{"sf": f"{n.sf_object} {n.sf_id}", "message": n.message} for n in plan.notes]),
            "dagster/row_count": len(operations),
            "operations_by_object": dg.MetadataValue.json(dict(by_object)),
            "plan_sample": _markdown(sample),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=PLAN_LIMITS_CHECK,
                passed=not problems,
                severity=dg.AssetCheckSeverity.ERROR,
                description="; ".join(problems) or "Plan within limits.",
                metadata={**summary_metadata, "operations": len(operations)},
            )
        ],
    )


PLAN_COLUMNS = [
    "seq", "operation", "stripe_object", "key", "sf_object", "sf_id", "stripe_id", "payload_hash", "idempotency_key",
    "destructive",
]
NOTE_COLUMNS = ["stripe_object", "key", "sf_object", "sf_id", "stripe_id", "contract_keys", "message"]


def _load_notes(conn) -> list[PlanningNote]:
    rows = warehouse.fetch_dicts(conn, f"SELECT {', '.join(NOTE_COLUMNS)} FROM sync.plan_notes")
    return [PlanningNote(**{**row, "contract_keys": tuple(row["contract_keys"] or ())}) for row in rows]


def _load_plan(conn) -> list[PlannedOperation]:
    rows = warehouse.fetch_dicts(conn, "SELECT * FROM sync.plan ORDER BY seq")
    return [
        PlannedOperation(
            **{name: row[name] for name in PLAN_COLUMNS},
            params=json.loads(row["params"]),
            contract_keys=tuple(row["contract_keys"] or ()),
        )
        for row in rows
    ]


def _quarantined(conn) -> list[tuple[Contract, list[Violation]]]:
    rows = warehouse.fetch_dicts(
        conn, "SELECT contract_key, order_ids, account_id, violations FROM sync.contract_validation "
        "WHERE status = 'quarantined'"
    )
    return [
        (
            Contract(
                key=row["contract_key"],
                initial_order_id=row["order_ids"][0],
                amendment_order_ids=tuple(row["order_ids"][1:]),
                account_id=row["account_id"],
            ),
            [Violation(**found) for found in json.loads(row["violations"])],
        )
        for row in rows
    ]


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
    per order, and appends every write and rejection to `sync.sync_records`."""
    run_id = context.run.run_id
    partition = _partition_label(context)
    stripe_client = stripe.get_client()
    sf_client = salesforce.get_client()
    now = datetime.now(UTC)
    with duckdb.get_connection() as conn:
        warehouse.prepare(conn)
        operations = _load_plan(conn)
        desired = _load_desired(conn)
        known_ids = warehouse.ledger(conn)
        adopted = {
            f"{row['stripe_object']}:{row['key']}": row["stripe_id"]
            for row in warehouse.fetch_dicts(conn, "SELECT * FROM sync.stripe_objects WHERE state = 'found'")
        }
        ids = {**adopted, **known_ids}
        org = _load_org(conn)
        valid_contracts = _contracts_by_key(org, _valid_keys(conn))
        # F43: the coupon snapshots orders lack are created first, so the Stripe coupons can name them (F10).
        coupon_links = _load_coupon_links(conn)
        to_create = coupons.snapshots_to_create(coupon_links)
        snapshot_results = salesforce_ops.create_records(sf_client, coupons.SNAPSHOT, list(to_create.values()))
        created = {key: result.record_key for key, result in zip(to_create, snapshot_results) if result.success}
        ids.update(coupons.snapshot_refs(created, f"https://{sf_client.sf_instance}"))
        outcomes = stripe_ops.execute_plan(stripe_client, operations, ids)
        for outcome in outcomes:
            if outcome.status == "success" and outcome.operation.operation == "create":
                ids[stripe_ops.object_ref(outcome.operation.stripe_object, outcome.operation.key)] = outcome.stripe_id

        desired_by_ref = {stripe_ops.object_ref(obj.stripe_object, obj.key): obj for obj in desired}
        warehouse.record_in_ledger(
            conn,
            [
                {
                    "stripe_object": obj.stripe_object,
                    "key": obj.key,
                    "stripe_id": ids[ref],
                    "sf_object": obj.sf_object,
                    "sf_id": obj.sf_id,
                    "payload_hash": None,
                    "run_id": run_id,
                    "updated_at": now,
                }
                for ref, obj in desired_by_ref.items()
                if ref in ids and known_ids.get(ref) != ids[ref]
            ],
        )

        records: list[sync_records.SyncRecord] = []
        quarantined = _quarantined(conn)
        for contract, violations in quarantined:
            records += sync_records.rejection_records(contract, violations)
        notes_by_contract: dict[str, list[PlanningNote]] = {}
        for note in _load_notes(conn):
            for key in note.contract_keys:
                notes_by_contract.setdefault(key, []).append(note)
        outcomes_by_contract: dict[str, list[stripe_ops.OperationOutcome]] = {}
        for outcome in outcomes:
            for key in outcome.operation.contract_keys:
                outcomes_by_contract.setdefault(key, []).append(outcome)
        # Objects keyed by something other than their record's Id (proration prices...) have no Stripe_ID__c.
        write_backs = [
            (obj.sf_object, obj.sf_id, ids[ref])
            for ref, obj in desired_by_ref.items()
            if obj.sf_object in WRITE_BACK_OBJECTS
            and obj.key == obj.sf_id
            and ref in ids
            and obj.linked_stripe_id != ids[ref]
        ]
        # What each order became in Stripe (its schedule, subscription or invoice), by order Id.
        primary_by_order: dict[str, tuple[str, str]] = {}
        for ref, obj in desired_by_ref.items():
            if obj.sf_object == "Order" and ref in ids:
                primary_by_order.setdefault(obj.sf_id, (obj.stripe_object, ids[ref]))
        for contract in valid_contracts:
            primary = primary_by_order.get(contract.initial_order_id)
            contract_records = sync_records.outcome_records(
                contract, outcomes_by_contract.get(contract.key, []), notes_by_contract.get(contract.key, []), primary
            )
            records += contract_records
            write_backs += sync_records.amendment_write_backs(contract, contract_records, primary, org)
        write_backs += coupons.coupon_write_backs(coupon_links, ids, created)
        write_back_results = snapshot_results + salesforce_ops.write_back_stripe_ids(sf_client, write_backs)
        payment_links = [
            (outcome.operation.sf_object, outcome.operation.sf_id, {"Stripe_Invoice_Payment_Link__c": link})
            for outcome in outcomes
            if (link := outcome.payment_link)
        ]
        write_back_results += salesforce_ops.write_back_fields(sf_client, payment_links)

        existing = warehouse.fetch_dicts(conn, 'SELECT * FROM salesforce."Sync_Record__c"')
        records += sync_records.resolved_records(records, existing)
        to_write = sync_records.changed_records(records, existing)
        record_results = salesforce_ops.upsert_sync_records(sf_client, [r.salesforce_fields(run_id) for r in to_write])
        retention_deleted = salesforce_ops.enforce_retention(sf_client, sync_config().retention.salesforce_sync_records) \
            if to_write else 0

        audit = _audit_rows(run_id, partition, now, outcomes, write_back_results, quarantined)
        warehouse.append_rows(conn, "sync_records", pd.DataFrame(audit, columns=AUDIT_COLUMNS))

    statuses = Counter(f"{row['operation']} {row['status']}" for row in audit)
    errors = [row for row in audit if row["status"] == "error"]
    stripe_errors = [outcome for outcome in outcomes if outcome.status != "success"]
    failed_writes = [result for result in (*write_back_results, *record_results) if not result.success]
    metadata = {
        "stripe_writes": sum(1 for outcome in outcomes if outcome.status != "skipped"),
        "stripe_errors": len(stripe_errors),
        "salesforce_write_backs": len(write_back_results),
        "sync_records_upserted": len(to_write),
        "sync_records_deleted_by_retention": retention_deleted,
        "rejected_contracts": len(quarantined),
        "counts_by_operation_and_status": dg.MetadataValue.json(dict(statuses)),
        "errors": _markdown(errors),
        **salesforce.api_usage(sf_client),
    }
    return dg.MaterializeResult(
        metadata=metadata,
        check_results=[
            dg.AssetCheckResult(
                check_name=SYNC_ERRORS_CHECK,
                passed=not stripe_errors and not failed_writes,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"stripe_errors": len(stripe_errors), "salesforce_write_failures": len(failed_writes)},
            )
        ],
    )


AUDIT_COLUMNS = [
    "run_id", "partition_key", "recorded_at", "contract_key", "sf_object", "sf_id", "stripe_object", "stripe_id",
    "operation", "status", "message", "idempotency_key", "stripe_request_id",
]


def _audit_rows(
    run_id: str,
    partition: str,
    now: datetime,
    outcomes: Sequence[stripe_ops.OperationOutcome],
    write_backs: Sequence[salesforce_ops.WriteResult],
    quarantined: Sequence[tuple[Contract, list[Violation]]],
) -> list[dict[str, Any]]:
    """One `sync.sync_records` row per Stripe write, per Salesforce write-back and per rejection."""
    base = {"run_id": run_id, "partition_key": partition, "recorded_at": now}
    rows = [
        {
            **base,
            "contract_key": ",".join(outcome.operation.contract_keys),
            "sf_object": outcome.operation.sf_object,
            "sf_id": outcome.operation.sf_id,
            "stripe_object": outcome.operation.stripe_object,
            "stripe_id": outcome.stripe_id,
            "operation": outcome.operation.operation,
            "status": outcome.status,
            "message": outcome.message,
            "idempotency_key": outcome.operation.idempotency_key,
            "stripe_request_id": outcome.request_id,
        }
        for outcome in outcomes
    ]
    rows += [
        {
            **base,
            "contract_key": None,
            "sf_object": result.sobject,
            "sf_id": result.record_key,
            "stripe_object": None,
            "stripe_id": result.stripe_id,
            "operation": "write_back",
            "status": "success" if result.success else "error",
            "message": result.message or "Stripe_ID__c written",
            "idempotency_key": None,
            "stripe_request_id": None,
        }
        for result in write_backs
    ]
    rows += [
        {
            **base,
            "contract_key": contract.key,
            "sf_object": violation.sf_object,
            "sf_id": violation.sf_id,
            "stripe_object": None,
            "stripe_id": None,
            "operation": "reject",
            "status": "error",
            "message": f"{violation.rule}: {violation.message}",
            "idempotency_key": None,
            "stripe_request_id": None,
        }
        for contract, violations in quarantined
        for violation in violations
    ]
    return rows
