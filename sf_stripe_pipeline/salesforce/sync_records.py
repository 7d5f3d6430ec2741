"""Sync records: what a run tells Salesforce (`Sync_Record__c`, spec F7) about each order it handled.

Pure functions. Given what validation decided about each contract in scope (core's ContractVerdict) and the outcome
of every Stripe operation, they say which `Sync_Record__c` rows should exist, keyed by
`Compound_ID__c = "<primary>-<secondary>"`, the primary being the order concerned:
- the failing order of a contract gets one Error record per failing record (secondary), listing every rule it
  breaks (`Data Error: ...`);
- an order that waits for it, or that is deleted in Salesforce, gets one Skipped record (`<order>-<order>`) saying
  why; it becomes Success once the order syncs;
- a failed operation, or a difference the plan refused (a note, e.g. a destructive change the limits withhold), gets
  an Error record on the contract's initial order and the record it was for;
- each synced order of a contract whose operations all succeeded gets one Success record; its earlier Error records,
  and Skipped records that no longer apply, become Resolved.

The shell writes only the rows that differ from what Salesforce already holds, so a re-run that changes nothing
writes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sf_stripe_pipeline.core import Contract, ContractVerdict, OrgSnapshot, PlanningNote
from sf_stripe_pipeline.stripe.objects import object_label
from sf_stripe_pipeline.stripe.writes import OperationOutcome

ERROR, SUCCESS, RESOLVED, SKIPPED = "Error", "Success", "Resolved", "Skipped"
RETAINED_STATUSES = (SUCCESS, RESOLVED)
"""The statuses retention keeps at most `retention.salesforce_sync_records` of (spec F9)."""
PRIMARY_OBJECT_TYPE = "Order"
ERROR_DOC_LINK = "https://docs.stripe.com/connectors/salesforce-cpq/error-handling"
SUCCESS_DOC_LINK = "https://docs.stripe.com/connectors/salesforce-cpq/overview"


@dataclass(frozen=True)
class SyncRecord:
    primary_id: str
    secondary_id: str
    secondary_object: str
    status: str
    message: str

    @property
    def compound_id(self) -> str:
        return f"{self.primary_id}-{self.secondary_id}"

    def salesforce_fields(self, run_id: str) -> dict[str, str]:
        return {
            "Compound_ID__c": self.compound_id,
            "Primary_Record_ID__c": self.primary_id,
            "Primary_Object_Type__c": PRIMARY_OBJECT_TYPE,
            "Secondary_Record_ID__c": self.secondary_id,
            "Secondary_Object_Type__c": self.secondary_object,
            "Resolution_Status__c": self.status,
            "Resolution_Message__c": self.message,
            "Resolution_Documentation_Link__c": SUCCESS_DOC_LINK if self.status == SUCCESS else ERROR_DOC_LINK,
            "Dagster_Run_ID__c": run_id,
        }


def verdict_records(verdict: ContractVerdict) -> list[SyncRecord]:
    """What validation decided, order by order: one Error record per failing record of the failing order, with every
    rule it breaks; one Skipped record per order waiting for it or deleted in Salesforce."""
    messages: dict[tuple[str, str], list[str]] = defaultdict(list)
    for violation in verdict.violations:
        messages[(violation.sf_object, violation.sf_id)].append(f"{violation.message} [rule: {violation.rule}]")
    primary = verdict.failing_order_id or verdict.contract.initial_order_id
    records = [
        SyncRecord(primary, sf_id, sf_object, ERROR, "Data Error: " + " | ".join(lines))
        for (sf_object, sf_id), lines in messages.items()
    ]
    records += [
        SyncRecord(order_id, order_id, PRIMARY_OBJECT_TYPE, SKIPPED, reason) for order_id, reason in verdict.skipped
    ]
    return records


def outcome_records(
    contract: Contract,
    outcomes: Iterable[OperationOutcome],
    notes: Iterable[PlanningNote],
    primary_stripe_object: tuple[str, str] | None,
) -> list[SyncRecord]:
    """Records for a valid contract after apply. `notes` are differences the plan refused to resolve (reported, not
    synced). `primary_stripe_object` is (stripe object, id) of what the order became (its schedule), if any."""
    failures = [
        SyncRecord(contract.initial_order_id, note.sf_id, note.sf_object, ERROR, f"Connector Error: {note.message}")
        for note in notes
    ]
    failures += [
        SyncRecord(
            contract.initial_order_id,
            outcome.operation.sf_id,
            outcome.operation.sf_object,
            ERROR,
            outcome.message,
        )
        for outcome in outcomes
        if outcome.status != "success"
    ]
    if failures or primary_stripe_object is None:
        return failures
    stripe_object, stripe_id = primary_stripe_object
    message = f"Created Stripe {object_label(stripe_object)} with Id: {stripe_id}"
    return [SyncRecord(order_id, order_id, PRIMARY_OBJECT_TYPE, SUCCESS, message) for order_id in contract.order_ids]


def amendment_write_backs(
    contract: Contract,
    contract_records: Sequence[SyncRecord],
    primary_stripe_object: tuple[str, str] | None,
    org: OrgSnapshot,
) -> list[tuple[str, str, str]]:
    """(Order, amendment Id, Stripe id) for each amendment of a synced `contract` (its synced orders only) whose
    Stripe_ID__c does not name what the contract became yet (F30, F40: amendment orders point at the schedule or
    subscription too). Deleted records are never written to."""
    if primary_stripe_object is None or not any(record.status == SUCCESS for record in contract_records):
        return []
    stripe_id = primary_stripe_object[1]
    return [
        ("Order", order_id, stripe_id)
        for order_id in contract.amendment_order_ids
        if (order := org.get("Order", order_id)) is not None
        and order.get("Status") == "Activated"  # a draft amendment is not part of the contract yet
        and not order.get("IsDeleted")
        and order.get("Stripe_ID__c") != stripe_id
    ]


def resolved_records(
    records: Sequence[SyncRecord], existing: Iterable[Mapping[str, object]]
) -> list[SyncRecord]:
    """Earlier records that no longer apply become Resolved: the Error records of orders that now succeeded (the
    connector's trigger, F7), and the Skipped records of orders that no longer wait (they now fail or sync)."""
    succeeded = {record.primary_id for record in records if record.status == SUCCESS}
    concerned = {record.primary_id for record in records}
    current = {record.compound_id for record in records}

    def stale(row: Mapping[str, object]) -> bool:
        status, primary = row.get("Resolution_Status__c"), row.get("Primary_Record_ID__c")
        return (status == ERROR and primary in succeeded) or (status == SKIPPED and primary in concerned)

    return [
        SyncRecord(
            str(row["Primary_Record_ID__c"]),
            str(row["Secondary_Record_ID__c"]),
            str(row.get("Secondary_Object_Type__c") or ""),
            RESOLVED,
            str(row.get("Resolution_Message__c") or ""),
        )
        for row in existing
        if stale(row) and row.get("Compound_ID__c") not in current and not row.get("IsDeleted")
    ]


def changed_records(records: Sequence[SyncRecord], existing: Iterable[Mapping[str, object]]) -> list[SyncRecord]:
    """The records whose status or message differ from what Salesforce holds (the only ones worth writing).

    A Success or Resolved record deleted in Salesforce with the status and message it would be written with again
    stays deleted: retention removed it (F9), and writing it back would only have retention delete another, every
    run, once an org has more synced orders than retention keeps."""
    held: dict[object, tuple[object, object]] = {}
    retired: dict[object, tuple[object, object]] = {}
    for row in existing:
        state = (row.get("Resolution_Status__c"), row.get("Resolution_Message__c"))
        if not row.get("IsDeleted"):
            held[row.get("Compound_ID__c")] = state
        elif state[0] in RETAINED_STATUSES:
            retired[row.get("Compound_ID__c")] = state
    return [
        record
        for record in records
        if (held[record.compound_id] if record.compound_id in held else retired.get(record.compound_id))
        != (record.status, record.message)
    ]
