"""The Salesforce side of the imperative shell: write Stripe ids back, upsert coupon snapshots and `Sync_Record__c`,
apply retention.

Writes go through the composite sObject collections API, at most 200 records a call, with `allOrNone = false` so
that one bad record does not hold back the others; each record's failure is reported back, not raised. Failures
worth another try are retried where they happen (issue 10.4): a record refused with `UNABLE_TO_LOCK_ROW` (another
transaction holds it) is sent again on its own, a request answered with a 5xx or a dropped connection is sent
again whole (every write here is an update, an upsert by external id or a delete: repeating one is harmless).
What still fails is reported per record; the Stripe ids are in the ledger, so the next run writes them back.
Salesforce's daily API limit (`REQUEST_LIMIT_EXCEEDED`) is not retried: the resource raises it (see
`defs/salesforce/resources.py`) and the run stops.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceGeneralError

from sf_stripe_pipeline.salesforce.sync_records import RETAINED_STATUSES

COMPOSITE_BATCH = 200
SYNC_RECORD = "Sync_Record__c"
RETRYABLE_RECORD_ERRORS = frozenset({"UNABLE_TO_LOCK_ROW"})
RECORD_ATTEMPTS = 4
REQUEST_ATTEMPTS = 3
BACKOFF_SECONDS = 0.5


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


def _pause(attempt: int) -> None:
    time.sleep(BACKOFF_SECONDS * 2 ** (attempt - 1) * (0.5 + random.random() / 2))


def _errors(row: dict[str, Any]) -> tuple[str, set[str]]:
    errors = row.get("errors") or []
    text = "; ".join(f"{error.get('statusCode')}: {error.get('message')}" for error in errors)
    return text, {str(error.get("statusCode")) for error in errors}


def _send(client: Salesforce, path: str, method: str, **kwargs: Any) -> list[dict[str, Any]] | str:
    """The per-record results of one composite request, or why the request failed after its attempts."""
    for attempt in range(1, REQUEST_ATTEMPTS + 1):
        try:
            return client.restful(path, method=method, **kwargs) or []
        except (SalesforceGeneralError, requests.ConnectionError) as error:
            failure = " ".join(str(error).split())
            if attempt < REQUEST_ATTEMPTS:
                _pause(attempt)
    return f"the request failed {REQUEST_ATTEMPTS} times: {failure}"


def _composite(
    client: Salesforce,
    path: str,
    method: str,
    items: Sequence[tuple[str, str, Any]],
    body: Any,
    *,
    key_from_response: bool = False,
) -> list[WriteResult]:
    """Send `items` (sobject, record key, payload) through a composite endpoint in batches; `body(payloads)` makes
    a request's keyword arguments. Records refused with a retryable error are sent again, on their own."""
    results: list[WriteResult | None] = [None] * len(items)
    pending = list(range(len(items)))
    for attempt in range(1, RECORD_ATTEMPTS + 1):
        retry: list[int] = []
        for batch in _batches(pending):
            response = _send(client, path, method, **body([items[index][2] for index in batch]))
            for position, index in enumerate(batch):
                sobject, key, _ = items[index]
                if isinstance(response, str):
                    results[index] = WriteResult(sobject, key, False, response)
                    continue
                row = response[position] if position < len(response) else {"errors": [{"message": "no result"}]}
                if row.get("success"):
                    results[index] = WriteResult(sobject, row.get("id") if key_from_response else key, True, "")
                    continue
                message, codes = _errors(row)
                if codes & RETRYABLE_RECORD_ERRORS and attempt < RECORD_ATTEMPTS:
                    retry.append(index)
                results[index] = WriteResult(sobject, key, False, message)
        if not retry:
            break
        pending = retry
        _pause(attempt)
    return [result for result in results if result is not None]


def _records_body(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {"json": {"allOrNone": False, "records": list(records)}}


def write_back_stripe_ids(client: Salesforce, updates: Sequence[tuple[str, str, str]]) -> list[WriteResult]:
    """Set `Stripe_ID__c` on each (sobject, record id, stripe id), in composite batches."""
    fields = [(sobject, record_id, {"Stripe_ID__c": stripe_id}) for sobject, record_id, stripe_id in updates]
    return [
        dataclasses.replace(result, stripe_id=stripe_id)
        for result, (_, _, stripe_id) in zip(write_back_fields(client, fields), updates, strict=True)
    ]


def write_back_fields(client: Salesforce, updates: Sequence[tuple[str, str, dict[str, Any]]]) -> list[WriteResult]:
    """Set the given fields on each (sobject, record id, fields), in composite batches."""
    items = [
        (sobject, record_id, {"attributes": {"type": sobject}, "Id": record_id, **fields})
        for sobject, record_id, fields in updates
    ]
    return _composite(client, "composite/sobjects", "PATCH", items, _records_body)


def upsert_records(
    client: Salesforce, sobject: str, external_id: str, records: Sequence[dict[str, Any]]
) -> list[WriteResult]:
    """Upsert `sobject` records by their `external_id` field, in composite batches. A result's record key is the
    record's Id (its external id if it failed). Used for the coupon snapshots of F43: made once, whatever
    happens to the run."""
    items = [(sobject, str(record[external_id]), {"attributes": {"type": sobject}, **record}) for record in records]
    results = _composite(
        client, f"composite/sobjects/{sobject}/{external_id}", "PATCH", items, _records_body, key_from_response=True
    )
    return [
        dataclasses.replace(result, stripe_id=record.get("Stripe_ID__c"))
        for result, record in zip(results, records, strict=True)
    ]


def upsert_sync_records(client: Salesforce, records: Sequence[dict[str, Any]]) -> list[WriteResult]:
    """Upsert `Sync_Record__c` rows by `Compound_ID__c`, in composite batches."""
    items = [
        (SYNC_RECORD, record["Compound_ID__c"], {"attributes": {"type": SYNC_RECORD}, **record}) for record in records
    ]
    return _composite(client, f"composite/sobjects/{SYNC_RECORD}/Compound_ID__c", "PATCH", items, _records_body)


def enforce_retention(client: Salesforce, keep: int) -> int:
    """Keep the newest `keep` Success/Resolved sync records in Salesforce; delete the older ones (spec F9, with the
    connector's delete-everything bug fixed), 200 a request. Returns how many were deleted."""
    statuses = ", ".join(f"'{status}'" for status in RETAINED_STATUSES)
    soql = (
        f"SELECT Id FROM {SYNC_RECORD} WHERE Resolution_Status__c IN ({statuses}) "
        "ORDER BY LastModifiedDate DESC, Id DESC"
    )
    expired = [record["Id"] for index, record in enumerate(client.query_all_iter(soql)) if index >= keep]
    items = [(SYNC_RECORD, record_id, record_id) for record_id in expired]
    results = _composite(
        client, "composite/sobjects", "DELETE", items, lambda ids: {"params": {"ids": ",".join(ids), "allOrNone": "false"}}
    )
    return sum(1 for result in results if result.success)
