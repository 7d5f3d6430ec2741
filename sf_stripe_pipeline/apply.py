"""Apply: execute the latest plan against Stripe and tell Salesforce what happened. The `applied_sync` asset is a thin
shell around `apply_plan`, which runs these named steps:

1. `record_in_ledger`: the Stripe ids the read found that the ledger lacks (written back, or adopted by sync key);
2. `upsert_coupon_snapshots`: the Order_Stripe_Coupon__c records orders lack (F43), upserted by their external id
   so the Stripe coupons can name them and a re-run never makes a second one;
3. `reactivate_archived_prices`: an archived line price that an operation needs again is reactivated first and
   archived again after (recovery from a price archived while its schedule failed);
4. `forget_contracts_in_flight`: the objects of contracts about to change lose their synced digest, so a crash
   leaves them to be read again (core/unchanged.py);
5. `execute_plan` (stripe/writes.py): every operation, independent ones concurrently, each recorded as it
   completes through `WarehouseJournal`: the intent before the request, then the outcome in `sync.sync_records`
   and the id in the ledger in one DuckDB transaction. A crash at any point loses nothing;
6. `remember_synced_contracts`: the ledger keeps the desired digest of every object whose contracts are now wholly
   in sync, so the next sync leaves them unread while Salesforce stays as it is (core/unchanged.py); a coupon
   that named a snapshot created in step 2 keeps the digest it will have once it names the record (`next_digests`);
7. `sync_records_for`: one Sync_Record__c verdict per order (F7), and which amendments need the contract's id;
8. `write_back`: Stripe ids and payment links onto the Salesforce records (F45), coupon ids (F44), each result
   appended to the audit trail as soon as it is known;
9. `upsert_sync_records`: the Sync_Record__c rows that changed, then retention (F9), whose deletions stay deleted;
10. the audit rows of the rejected contracts.

Every step reads what it needs from the warehouse tables the earlier assets wrote, so it can be tested with a DuckDB
connection and the sandbox clients, without Dagster.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import duckdb
import stripe
from simple_salesforce import Salesforce

from sf_stripe_pipeline.core import (
    Contract,
    ContractVerdict,
    DesiredObject,
    PlannedOperation,
    PlanningNote,
    Violation,
    coupons,
)
from sf_stripe_pipeline.core.desired import is_ref, refs_in, with_refs_replaced
from sf_stripe_pipeline.core.org import OrgSnapshot
from sf_stripe_pipeline.core.plan import AUTO_ARCHIVE_KEY, planned_operation
from sf_stripe_pipeline.core.unchanged import contracts_in_sync, synced_digests
from sf_stripe_pipeline.salesforce import sync_records
from sf_stripe_pipeline.salesforce import writes as salesforce_writes
from sf_stripe_pipeline.salesforce.writes import WriteResult
from sf_stripe_pipeline.stripe.writes import (
    FAILED,
    REJECTED,
    SENT,
    SKIPPED,
    SUCCESS,
    Attempt,
    ExecutionSettings,
    OperationOutcome,
    PriorAttempt,
    execute_plan,
)
from sf_stripe_pipeline.warehouse import actual, audit, desired, ledger, org, plan, validation
from sf_stripe_pipeline.warehouse.db import transaction

WRITE_BACK_OBJECTS = frozenset({"Account", "Product2", "PricebookEntry", "Order", "OrderItem"})
"""Objects whose `Stripe_ID__c` names the Stripe object made from them (F45)."""


@dataclass
class ApplyReport:
    outcomes: list[OperationOutcome]
    write_backs: list[WriteResult]
    """Coupon snapshots upserted, Stripe ids and payment links written back."""
    sync_record_results: list[WriteResult]
    sync_records_upserted: int
    retention_deleted: int
    quarantined: list[tuple[Contract, list[Violation]]]
    audit_rows: list[dict] = field(default_factory=list)
    stopped: str | None = None
    """Why Stripe writes stopped before every operation was tried (retry budget spent, credentials refused)."""

    @property
    def stripe_errors(self) -> list[OperationOutcome]:
        return [outcome for outcome in self.outcomes if outcome.status != SUCCESS]

    @property
    def failed_salesforce_writes(self) -> list[WriteResult]:
        return [result for result in (*self.write_backs, *self.sync_record_results) if not result.success]

    @property
    def counts(self) -> dict[str, int]:
        """Stripe operations by outcome: `applied` (done), `rejected` (Stripe refused the data: fix it in
        Salesforce), `failed` (not done for now: Stripe kept failing or the run stopped; the next run retries),
        `skipped` (something they need did not succeed); and failed Salesforce writes."""
        by_status = Counter(outcome.status for outcome in self.outcomes)
        return {
            "applied": by_status[SUCCESS],
            "rejected": by_status[REJECTED],
            "failed": by_status[FAILED],
            "skipped": by_status[SKIPPED],
            "salesforce_write_failures": len(self.failed_salesforce_writes),
        }

    @property
    def first_error(self) -> str | None:
        """The run's first problem, in one line: why it stopped, else the first failed or rejected operation, else
        the first failed Salesforce write."""
        if self.stopped:
            return self.stopped
        for outcome in self.outcomes:
            if outcome.status in (FAILED, REJECTED):
                op = outcome.operation
                return f"{op.operation} {op.stripe_object} for {op.sf_object} {op.sf_id}: {outcome.message}"
        for result in self.failed_salesforce_writes:
            return f"write to {result.sobject} {result.record_key}: {result.message}"
        return None


class WarehouseJournal:
    """The executor's journal in DuckDB (`sync.stripe_intents`, `sync.stripe_ledger`, `sync.sync_records`), written
    on the run's connection from the executing thread only."""

    def __init__(
        self,
        conn: duckdb.DuckDBPyConnection,
        *,
        run_id: str,
        partition: str,
        operations: Sequence[PlannedOperation] | None = None,
    ):
        """`operations`: the plan; only their earlier attempts are loaded (all when None)."""
        self.conn = conn
        self.run_id = run_id
        self.partition = partition
        self.audit_rows: list[dict[str, Any]] = []
        self._sent_at: dict[tuple[str, str, str], int] = {}
        self._prior = {
            (row["stripe_object"], row["key"], row["operation"]): PriorAttempt(
                state=row["state"],
                target_id=row["target_id"],
                payload_hash=row["payload_hash"],
                generation=row["generation"] or 0,
                sent_at=row["sent_at"] or 0,
                message=row["message"],
            )
            for row in ledger.intents(conn, None if operations is None else [op.key for op in operations])
        }

    def prior_attempts(self) -> Mapping[tuple[str, str, str], PriorAttempt]:
        return self._prior

    def record(self, settled: Sequence[tuple[OperationOutcome, str | None]], sending: Sequence[Attempt]) -> None:
        """Outcomes just known and intents about to be sent, in one transaction."""
        now = datetime.now(UTC)
        audit_rows = [audit.outcome_row(self.run_id, self.partition, now, outcome) for outcome, _ in settled]
        ledger_rows = [
            {
                "stripe_object": outcome.operation.stripe_object,
                "key": outcome.operation.key,
                "stripe_id": outcome.stripe_id,
                "sf_object": outcome.operation.sf_object,
                "sf_id": outcome.operation.sf_id,
                "payload_hash": outcome.payload_hash,
                "run_id": self.run_id,
                "updated_at": now,
            }
            for outcome, _ in settled
            if outcome.status == SUCCESS and outcome.operation.operation == "create" and outcome.stripe_id
        ]
        intent_rows = []
        for attempt in sending:
            op = attempt.operation
            self._sent_at[(op.stripe_object, op.key, op.operation)] = attempt.first_sent_at
            intent_rows.append(self._intent(op, SENT, attempt.stripe_id, None, attempt.payload_hash,
                                            attempt.key(), attempt.generation, None, now))
        for outcome, target_id in settled:
            op = outcome.operation
            if outcome.idempotency_key is None and not outcome.adopted:
                continue  # nothing was sent for it: what the journal knew still holds
            made = outcome.stripe_id if op.operation == "create" else None
            intent_rows.append(self._intent(op, outcome.status, target_id, made, outcome.payload_hash,
                                            outcome.idempotency_key, outcome.generation, outcome.message, now))
        with transaction(self.conn):
            audit.append(self.conn, audit_rows)
            ledger.record(self.conn, ledger_rows)
            ledger.record_intents(self.conn, intent_rows)
        self.audit_rows += audit_rows

    def _intent(
        self,
        op: PlannedOperation,
        state: str,
        target_id: str | None,
        stripe_id: str | None,
        digest: str | None,
        key: str | None,
        generation: int,
        message: str | None,
        now: datetime,
    ) -> dict[str, Any]:
        return {
            "stripe_object": op.stripe_object,
            "key": op.key,
            "operation": op.operation,
            "state": state,
            "target_id": target_id,
            "stripe_id": stripe_id,
            "payload_hash": digest,
            "idempotency_key": key,
            "generation": generation,
            "sent_at": self._sent_at.get((op.stripe_object, op.key, op.operation)),
            "message": message,
            "run_id": self.run_id,
            "updated_at": now,
        }


def apply_plan(
    conn: duckdb.DuckDBPyConnection,
    stripe_client: stripe.StripeClient,
    sf_client: Salesforce,
    *,
    run_id: str,
    partition: str,
    retention_keep: int,
    now: datetime,
    digest: Callable[[DesiredObject], str],
    settings: ExecutionSettings = ExecutionSettings(),
) -> ApplyReport:
    """`digest`: how `actual_stripe_state` digested the desired objects (core/unchanged.desired_digest under the
    run's config and Stripe target), for the objects whose next digest this run can tell already."""
    operations = plan.load_operations(conn)
    desired_objects = desired.load(conn)
    desired_by_ref = {obj.address: obj for obj in desired_objects}
    known_ids = ledger.ids(conn)
    ids = {**actual.found_ids(conn), **known_ids}
    record_in_ledger(conn, desired_by_ref, ids, known_ids, run_id=run_id, now=now)
    coupon_links = desired.load_coupon_links(conn)
    instance_url = f"https://{sf_client.sf_instance}"

    snapshot_results, created_snapshots = upsert_coupon_snapshots(sf_client, coupon_links)
    audit_rows = _append_audit(conn, audit.write_back_rows(run_id, partition, now, snapshot_results))
    created_refs = coupons.snapshot_refs(created_snapshots, instance_url)
    ids.update(created_refs)
    operations = reactivate_archived_prices(operations, actual.bodies(conn), desired_by_ref)
    forget_contracts_in_flight(conn, desired_objects, operations)
    journal = WarehouseJournal(conn, run_id=run_id, partition=partition, operations=operations)
    execution = execute_plan(
        stripe_client, operations, ids, journal=journal, settings=settings, lanes=customer_lanes(desired_objects)
    )
    outcomes = execution.outcomes
    for outcome in outcomes:
        if outcome.status == SUCCESS and outcome.operation.operation == "create" and outcome.stripe_id:
            ids[f"{outcome.operation.stripe_object}:{outcome.operation.key}"] = outcome.stripe_id

    notes = plan.load_notes(conn)
    upcoming = next_digests(desired_objects, created_refs, digest)
    remember_synced_contracts(conn, desired_objects, operations, outcomes, notes, upcoming)

    verdicts = validation.verdicts(conn)
    quarantined = [(verdict.contract, verdict.violations) for verdict in verdicts if verdict.violations]
    # The amendments' write-backs compare with their orders (the warehouse's Orders are not written during apply).
    amendment_ids = [order_id for verdict in verdicts for order_id in verdict.contract.amendment_order_ids]
    amendments = OrgSnapshot({"Order": org.typed_records(conn, "Order", amendment_ids)})
    records, amendment_write_backs = sync_records_for(verdicts, outcomes, notes, desired_by_ref, ids, amendments)
    written = write_back(sf_client, desired_by_ref, ids, amendment_write_backs, coupon_links, created_snapshots, outcomes)
    audit_rows += _append_audit(conn, audit.write_back_rows(run_id, partition, datetime.now(UTC), written))
    existing = org.sync_record_rows(conn, sorted({record.primary_id for record in records}))
    records += sync_records.resolved_records(records, existing)
    to_write = sync_records.changed_records(records, existing)
    record_results = salesforce_writes.upsert_sync_records(sf_client, [r.salesforce_fields(run_id) for r in to_write])
    retention_deleted = salesforce_writes.enforce_retention(sf_client, retention_keep) if to_write else 0
    audit_rows += _append_audit(conn, audit.rejection_rows(run_id, partition, datetime.now(UTC), quarantined))

    return ApplyReport(
        outcomes,
        snapshot_results + written,
        record_results,
        len(to_write),
        retention_deleted,
        quarantined,
        audit_rows=journal.audit_rows + audit_rows,
        stopped=execution.stopped,
    )


def _append_audit(conn: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    audit.append(conn, rows)
    return rows


def upsert_coupon_snapshots(
    sf_client: Salesforce, links: Sequence[coupons.CouponLink]
) -> tuple[list[WriteResult], dict[str, str]]:
    """F43: the coupon snapshots orders lack, upserted by `Snapshot_Key__c` before the Stripe writes so the Stripe
    coupons can name them (F10). Returns the write results and snapshot key -> Salesforce Id."""
    to_create = coupons.snapshots_to_create(list(links))
    results = salesforce_writes.upsert_records(sf_client, coupons.SNAPSHOT, coupons.SNAPSHOT_KEY, list(to_create.values()))
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


def forget_contracts_in_flight(
    conn: duckdb.DuckDBPyConnection, desired_objects: Sequence[DesiredObject], operations: Sequence[PlannedOperation]
) -> None:
    """Before any write, the objects of the contracts about to change lose their synced digest: a run that dies
    midway leaves them to be read again, even if Salesforce goes back to what it was (core/unchanged.py)."""
    changing = {key for op in operations for key in op.contract_keys}
    in_flight = [obj for obj in desired_objects if changing.intersection(obj.contract_keys)]
    ledger.set_synced_digests(conn, dict.fromkeys((obj.address for obj in in_flight), None))


def remember_synced_contracts(
    conn: duckdb.DuckDBPyConnection,
    desired_objects: Sequence[DesiredObject],
    operations: Sequence[PlannedOperation],
    outcomes: Sequence[OperationOutcome],
    notes: Sequence[PlanningNote],
    next_digests: Mapping[str, str],
) -> None:
    """The ledger keeps the digest of each object whose contracts the run left wholly in sync (every operation
    applied, no note), so the next sync leaves them unread while Salesforce stays as it is (core/unchanged.py);
    the digest of every other object in scope is cleared, so it is read again. `next_digests`: the digests some
    objects will have at the next run because of this run's Salesforce writes, kept instead of this run's."""
    applied = {
        (o.operation.stripe_object, o.operation.key, o.operation.operation) for o in outcomes if o.status == SUCCESS
    }
    unsettled = [
        key for op in operations if (op.stripe_object, op.key, op.operation) not in applied for key in op.contract_keys
    ]
    in_sync = contracts_in_sync(desired_objects, unsettled, [key for note in notes for key in note.contract_keys])
    digests = {**actual.desired_digests(conn), **next_digests}
    ledger.set_synced_digests(conn, synced_digests(desired_objects, digests, in_sync))


def next_digests(
    desired_objects: Sequence[DesiredObject], created_refs: Mapping[str, str], digest: Callable[[DesiredObject], str]
) -> dict[str, str]:
    """Address -> the digest of each object that refers to a Salesforce record this run created (a coupon naming
    its order coupon snapshot, F43), as the next run drafts it: naming the record, no longer a ref. Kept as its
    synced digest, the next sync leaves the contract unread instead of reading it because of this run's own write."""
    return {
        obj.address: digest(with_refs_replaced(obj, created_refs))
        for obj in desired_objects
        if created_refs.keys() & set(obj.depends_on)
    }


def customer_lanes(desired_objects: Sequence[DesiredObject]) -> dict[str, str]:
    """Desired address -> the customer it is billed to, for objects with one: their writes go one at a time."""
    lanes = {}
    for obj in desired_objects:
        customer = obj.params.get("customer")
        if is_ref(customer):
            lanes[obj.address] = customer["$ref"]
        elif isinstance(customer, str):
            lanes[obj.address] = f"customer:{customer}"
    return lanes


def reactivate_archived_prices(
    operations: Sequence[PlannedOperation],
    bodies: Mapping[str, dict | None],
    desired_by_ref: Mapping[str, DesiredObject],
) -> list[PlannedOperation]:
    """Operations that use an archived price (a line price archived by an earlier run whose schedule then failed,
    or one archived by hand) need it active: Stripe refuses inactive prices in new items and phases. Such a price
    is reactivated before them and, if it is an order-line price (F21), archived again after them. The planner
    leaves these to the shell because only an operation that is about to run needs them."""
    planned = {(f"{op.stripe_object}:{op.key}", op.operation) for op in operations}
    needed: dict[str, dict] = {}
    for op in operations:
        if op.operation in ("archive", "cancel"):
            continue
        for ref in refs_in(op.params):
            body = bodies.get(ref)
            inactive = body is not None and not body.get("active", True) and not body.get("deleted")
            if ref.startswith("price:") and inactive and (ref, "create") not in planned and (ref, "update") not in planned:
                needed[ref] = body
    if not needed:
        return list(operations)
    before, after = [], []
    for ref, body in sorted(needed.items()):
        obj = desired_by_ref[ref]
        before.append(planned_operation(obj, "update", body["id"], {"active": True}))
        auto_archived = (obj.params.get("metadata") or {}).get(AUTO_ARCHIVE_KEY) == "true"
        if auto_archived and (ref, "archive") not in planned:
            after.append(planned_operation(obj, "archive", body["id"], {"active": False}))
    ordered = [*before, *sorted(operations, key=lambda op: op.seq), *after]
    return [_renumbered(op, seq) for seq, op in enumerate(ordered, 1)]


def _renumbered(op: PlannedOperation, seq: int) -> PlannedOperation:
    return replace(op, seq=seq)


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
