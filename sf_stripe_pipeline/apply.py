"""Apply: execute the latest plan against Stripe and tell Salesforce what happened. The `applied_sync` asset is a thin
shell around `apply_plan`, which runs these named steps:

1. `create_coupon_snapshots`: the Order_Stripe_Coupon__c records orders lack (F43), so the coupons can name them;
2. `execute_plan` (stripe/writes.py): every operation in dependency order, each with its idempotency key;
3. `record_in_ledger`: the Stripe id of every desired object created or adopted;
4. `sync_records_for`: one Sync_Record__c verdict per order (F7), and which amendments need the contract's id;
5. `write_back`: Stripe ids and payment links onto the Salesforce records (F45), coupon ids (F44);
6. `upsert_sync_records`: the Sync_Record__c rows that changed, then retention (F9);
7. the audit rows of everything above, appended to `sync.sync_records`.

Every step reads what it needs from the warehouse tables the earlier assets wrote, so it can be tested with a DuckDB
connection and the sandbox clients, without Dagster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import duckdb
import stripe
from simple_salesforce import Salesforce

from sf_stripe_pipeline.core import Contract, ContractVerdict, DesiredObject, PlanningNote, Violation, coupons
from sf_stripe_pipeline.core.org import OrgSnapshot
from sf_stripe_pipeline.salesforce import sync_records
from sf_stripe_pipeline.salesforce import writes as salesforce_writes
from sf_stripe_pipeline.salesforce.writes import WriteResult
from sf_stripe_pipeline.stripe.objects import object_ref
from sf_stripe_pipeline.stripe.writes import OperationOutcome, execute_plan
from sf_stripe_pipeline.warehouse import actual, audit, desired, ledger, org, plan, validation

WRITE_BACK_OBJECTS = frozenset({"Account", "Product2", "PricebookEntry", "Order", "OrderItem"})
"""Objects whose `Stripe_ID__c` names the Stripe object made from them (F45)."""


@dataclass
class ApplyReport:
    outcomes: list[OperationOutcome]
    write_backs: list[WriteResult]
    """Coupon snapshots created, Stripe ids and payment links written back."""
    sync_record_results: list[WriteResult]
    sync_records_upserted: int
    retention_deleted: int
    quarantined: list[tuple[Contract, list[Violation]]]
    audit_rows: list[dict] = field(default_factory=list)

    @property
    def stripe_errors(self) -> list[OperationOutcome]:
        return [outcome for outcome in self.outcomes if outcome.status != "success"]

    @property
    def failed_salesforce_writes(self) -> list[WriteResult]:
        return [result for result in (*self.write_backs, *self.sync_record_results) if not result.success]


def apply_plan(
    conn: duckdb.DuckDBPyConnection,
    stripe_client: stripe.StripeClient,
    sf_client: Salesforce,
    *,
    run_id: str,
    partition: str,
    retention_keep: int,
    now: datetime,
) -> ApplyReport:
    operations = plan.load_operations(conn)
    desired_objects = desired.load(conn)
    known_ids = ledger.ids(conn)
    ids = {**actual.found_ids(conn), **known_ids}
    org_snapshot = org.load_org(conn)
    coupon_links = desired.load_coupon_links(conn)
    instance_url = f"https://{sf_client.sf_instance}"

    snapshot_results, created_snapshots = create_coupon_snapshots(sf_client, coupon_links)
    ids.update(coupons.snapshot_refs(created_snapshots, instance_url))
    outcomes = execute_plan(stripe_client, operations, ids)
    for outcome in outcomes:
        if outcome.status == "success" and outcome.operation.operation == "create":
            ids[object_ref(outcome.operation.stripe_object, outcome.operation.key)] = outcome.stripe_id

    desired_by_ref = {obj.address: obj for obj in desired_objects}
    record_in_ledger(conn, desired_by_ref, ids, known_ids, run_id=run_id, now=now)

    quarantined = validation.quarantined(conn)
    records, amendment_write_backs = sync_records_for(
        validation.verdicts(conn), outcomes, plan.load_notes(conn), desired_by_ref, ids, org_snapshot
    )
    write_backs = snapshot_results + write_back(
        sf_client, desired_by_ref, ids, amendment_write_backs, coupon_links, created_snapshots, outcomes
    )
    existing = org.sync_record_rows(conn)
    records += sync_records.resolved_records(records, existing)
    to_write = sync_records.changed_records(records, existing)
    record_results = salesforce_writes.upsert_sync_records(sf_client, [r.salesforce_fields(run_id) for r in to_write])
    retention_deleted = salesforce_writes.enforce_retention(sf_client, retention_keep) if to_write else 0

    report = ApplyReport(outcomes, write_backs, record_results, len(to_write), retention_deleted, quarantined)
    report.audit_rows = audit.rows(run_id, partition, now, outcomes, write_backs, quarantined)
    audit.append(conn, report.audit_rows)
    return report


def create_coupon_snapshots(
    sf_client: Salesforce, links: Sequence[coupons.CouponLink]
) -> tuple[list[WriteResult], dict[str, str]]:
    """F43: the coupon snapshots orders lack, created first so the Stripe coupons can name them (F10).
    Returns the write results and snapshot key -> new Salesforce Id."""
    to_create = coupons.snapshots_to_create(list(links))
    results = salesforce_writes.create_records(sf_client, coupons.SNAPSHOT, list(to_create.values()))
    created = {key: result.record_key for key, result in zip(to_create, results) if result.success}
    return results, created


def record_in_ledger(
    conn: duckdb.DuckDBPyConnection,
    desired_by_ref: Mapping[str, DesiredObject],
    ids: Mapping[str, str],
    known_ids: Mapping[str, str],
    *,
    run_id: str,
    now: datetime,
) -> None:
    """The Stripe id of every desired object that has one now and that the ledger did not know yet."""
    ledger.record(
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


def sync_records_for(
    verdicts: Sequence[ContractVerdict],
    outcomes: Sequence[OperationOutcome],
    notes: Sequence[PlanningNote],
    desired_by_ref: Mapping[str, DesiredObject],
    ids: Mapping[str, str],
    org_snapshot: OrgSnapshot,
) -> tuple[list[sync_records.SyncRecord], list[tuple[str, str, str]]]:
    """The Sync_Record__c verdicts of every contract in scope, order by order (the failing order's errors, the
    orders skipped, the synced orders' success or the errors of their operations), and the synced amendment orders
    that must name what their contract became in Stripe (F30, F40)."""
    notes_by_contract: dict[str, list[PlanningNote]] = {}
    for note in notes:
        for key in note.contract_keys:
            notes_by_contract.setdefault(key, []).append(note)
    outcomes_by_contract: dict[str, list[OperationOutcome]] = {}
    for outcome in outcomes:
        for key in outcome.operation.contract_keys:
            outcomes_by_contract.setdefault(key, []).append(outcome)
    primary_by_order = _primary_by_order(desired_by_ref, ids)
    records: list[sync_records.SyncRecord] = []
    amendment_write_backs: list[tuple[str, str, str]] = []
    for verdict in verdicts:
        records += sync_records.verdict_records(verdict)
        synced = verdict.synced_contract
        if synced is None:
            continue
        primary = primary_by_order.get(synced.initial_order_id)
        contract_records = sync_records.outcome_records(
            synced, outcomes_by_contract.get(synced.key, []), notes_by_contract.get(synced.key, []), primary
        )
        records += contract_records
        amendment_write_backs += sync_records.amendment_write_backs(synced, contract_records, primary, org_snapshot)
    return records, amendment_write_backs


def _primary_by_order(desired_by_ref: Mapping[str, DesiredObject], ids: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """What each order became in Stripe (its schedule, subscription or invoice): order Id -> (object, id)."""
    primary: dict[str, tuple[str, str]] = {}
    for ref, obj in desired_by_ref.items():
        if obj.sf_object == "Order" and ref in ids:
            primary.setdefault(obj.sf_id, (obj.stripe_object, ids[ref]))
    return primary


def write_back(
    sf_client: Salesforce,
    desired_by_ref: Mapping[str, DesiredObject],
    ids: Mapping[str, str],
    amendment_write_backs: Sequence[tuple[str, str, str]],
    coupon_links: Sequence[coupons.CouponLink],
    created_snapshots: Mapping[str, str],
    outcomes: Sequence[OperationOutcome],
) -> list[WriteResult]:
    """F45: Stripe ids onto the records they came from (objects keyed by something other than their record's Id,
    such as proration prices, have no Stripe_ID__c of their own), the amendments, the coupon records (F44), and
    the payment links of finalized invoices (F26)."""
    stripe_ids = [
        (obj.sf_object, obj.sf_id, ids[ref])
        for ref, obj in desired_by_ref.items()
        if obj.sf_object in WRITE_BACK_OBJECTS
        and obj.key == obj.sf_id
        and ref in ids
        and obj.linked_stripe_id != ids[ref]
    ]
    stripe_ids += amendment_write_backs
    stripe_ids += coupons.coupon_write_backs(list(coupon_links), ids, created_snapshots)
    results = salesforce_writes.write_back_stripe_ids(sf_client, stripe_ids)
    payment_links = [
        (outcome.operation.sf_object, outcome.operation.sf_id, {"Stripe_Invoice_Payment_Link__c": link})
        for outcome in outcomes
        if (link := outcome.payment_link)
    ]
    return results + salesforce_writes.write_back_fields(sf_client, payment_links)
