"""The Salesforce side of the imperative shell: write Stripe ids back, upsert `Sync_Record__c`, apply retention.

Writes go through the composite sObject collections API, at most 200 records a call, with `allOrNone = false` so
that one bad record does not hold back the others; each record's failure is reported back, not raised.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from simple_salesforce import Salesforce

COMPOSITE_BATCH = 200
SYNC_RECORD = "Sync_Record__c"


@dataclass(frozen=True)
class WriteResult:
    sobject: str
    record_key: str
    """The record's Id, or its external id for upserts."""
    success: bool
    message: str
    stripe_id: str | None = None
    """For write-backs: the Stripe id written."""


def _batches(items: Sequence[Any], size: int = COMPOSITE_BATCH) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _results(targets: Sequence[tuple[str, str]], response: list[dict[str, Any]]) -> list[WriteResult]:
    """Pair each (sobject, record key) sent with its per-record result, in order."""
    results = []
    for (sobject, key), result in zip(targets, response):
        errors = "; ".join(f"{error.get('statusCode')}: {error.get('message')}" for error in result.get("errors") or [])
        results.append(WriteResult(sobject, key, bool(result.get("success")), errors))
    return results


def write_back_stripe_ids(client: Salesforce, updates: Sequence[tuple[str, str, str]]) -> list[WriteResult]:
    """Set `Stripe_ID__c` on each (sobject, record id, stripe id), in composite batches."""
    fields = [(sobject, record_id, {"Stripe_ID__c": stripe_id}) for sobject, record_id, stripe_id in updates]
    return [
        dataclasses.replace(result, stripe_id=stripe_id)
        for result, (_, _, stripe_id) in zip(write_back_fields(client, fields), updates, strict=True)
    ]


def write_back_fields(client: Salesforce, updates: Sequence[tuple[str, str, dict[str, Any]]]) -> list[WriteResult]:
    """Set the given fields on each (sobject, record id, fields), in composite batches."""
    results: list[WriteResult] = []
    for batch in _batches(list(updates)):
        records = [{"attributes": {"type": sobject}, "Id": record_id, **fields} for sobject, record_id, fields in batch]
        response = client.restful("composite/sobjects", method="PATCH", json={"allOrNone": False, "records": records})
        results += _results([(sobject, record_id) for sobject, record_id, _ in batch], response)
    return results


def create_records(client: Salesforce, sobject: str, records: Sequence[dict[str, Any]]) -> list[WriteResult]:
    """Create `sobject` records (e.g. the coupon snapshots of F43), in composite batches."""
    results: list[WriteResult] = []
    for batch in _batches(list(records)):
        body = {"allOrNone": False, "records": [{"attributes": {"type": sobject}, **record} for record in batch]}
        response = client.restful("composite/sobjects", method="POST", json=body)
        results += [
            dataclasses.replace(result, record_key=result_row.get("id") or "", stripe_id=record.get("Stripe_ID__c"))
            for result, result_row, record in zip(
                _results([(sobject, "") for _ in batch], response), response, batch, strict=False
            )
        ]
    return results


def upsert_sync_records(client: Salesforce, records: Sequence[dict[str, Any]]) -> list[WriteResult]:
    """Upsert `Sync_Record__c` rows by `Compound_ID__c`, in composite batches."""
    results: list[WriteResult] = []
    for batch in _batches(list(records)):
        body = {"allOrNone": False, "records": [{"attributes": {"type": SYNC_RECORD}, **record} for record in batch]}
        response = client.restful(f"composite/sobjects/{SYNC_RECORD}/Compound_ID__c", method="PATCH", json=body)
        results += _results([(SYNC_RECORD, record["Compound_ID__c"]) for record in batch], response)
    return results


def enforce_retention(client: Salesforce, keep: int) -> int:
    """Keep the newest `keep` Success/Resolved sync records in Salesforce; delete the older ones (spec F9, with the
    connector's delete-everything bug fixed). Returns how many were deleted."""
    soql = (
        f"SELECT Id FROM {SYNC_RECORD} WHERE Resolution_Status__c IN ('Success', 'Resolved') "
        "ORDER BY LastModifiedDate DESC, Id DESC"
    )
    expired = [record["Id"] for index, record in enumerate(client.query_all_iter(soql)) if index >= keep]
    sync_records = getattr(client, SYNC_RECORD)
    for record_id in expired:
        sync_records.delete(record_id)
    return len(expired)
