"""Incremental extraction of Salesforce objects into the DuckDB warehouse.

Each object is pulled with `queryAll` (so deletions arrive as `IsDeleted = true`) from its `SystemModstamp`
high-water mark, page by page as Salesforce batches them (up to 2,000 records a call), and upserted by Id. SOQL's
datetime literals are whole seconds, so the mark's second is read again (`>=`): a record stamped later in that
second may have been written after the previous query. Once an extraction has queried `SETTLED` (10 minutes,
Salesforce's longest transaction) after that second ended, nothing more can arrive in it, and the next reads from
the second after (`read_from`): a bulk write of thousands of records in one second is not read again by every run.

The user's SOQL filter for an object (spec F4) does not drop records from the warehouse: a second, Id-only query
with the filter marks each record's `_passes_filter`. The sync then knows an order exists but was filtered out,
which it needs to explain "the initial order was skipped by your filters" instead of "not found".

The records are validated against their pandera schema once per version, here (`validate_extracted`: each record
whose stored failures were not found at its version, which includes anything an extraction that stopped midway
upserted): the schema checks and the sync's validation read the failures stored with them instead of validating
the table again. A record read again unchanged (the mark's second) is not validated again.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import pandas as pd
from simple_salesforce import Salesforce

from sf_stripe_pipeline import clock
from sf_stripe_pipeline.salesforce.catalogue import SOBJECTS
from sf_stripe_pipeline.salesforce.filters import where_clause
from sf_stripe_pipeline.warehouse import org as org_tables

UPSERT_CHUNK = 20_000


@dataclass(frozen=True)
class ExtractionResult:
    sobject: str
    records: int
    deleted: int
    filtered_out: int
    watermark_before: datetime | None
    watermark_after: datetime | None
    soql: str
    validated: int = 0
    """Records validated against the object's schema (those upserted with a new version; all when the schema
    changed)."""


def soql_datetime(moment: datetime) -> str:
    """A SOQL datetime literal (whole seconds, UTC)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_query(sobject: str, since: datetime | None, where: str | None = None, fields: Iterable[str] = ()) -> str:
    selected = ", ".join(fields or SOBJECTS[sobject].fields)
    watermark = f"SystemModstamp >= {soql_datetime(since)}" if since is not None else None
    conditions = where_clause(sobject, watermark, where)  # the user's filter can only narrow, never widen
    return f"SELECT {selected} FROM {sobject}" + (f" WHERE {conditions}" if conditions else "")


def _chunks(records: Iterator[dict], size: int) -> Iterator[list[dict]]:
    chunk: list[dict] = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def extract_object(
    client: Salesforce,
    conn: duckdb.DuckDBPyConnection,
    sobject: str,
    *,
    where: str | None = None,
    full_refresh: bool = False,
    run_id: str = "",
) -> ExtractionResult:
    """Pull what changed in `sobject` since its watermark into `salesforce."<sobject>"`; advance the watermark."""
    fields = list(SOBJECTS[sobject].fields)
    mark, last_queried_at = (None, None) if full_refresh else org_tables.watermark(conn, sobject)
    since = org_tables.read_from(mark, last_queried_at)
    soql = build_query(sobject, since)
    queried_at = clock.now()  # by the clock Salesforce stamps with (the sandbox's may be pinned)
    passing_ids: set[str] | None = None
    if where:
        id_query = build_query(sobject, since, where, fields=["Id"])
        passing_ids = {record["Id"] for record in client.query_all_iter(id_query, include_deleted=True)}

    extracted_at = datetime.now(UTC)
    total = deleted = filtered_out = 0
    newest = mark
    for chunk in _chunks(client.query_all_iter(soql, include_deleted=True), UPSERT_CHUNK):
        frame = pd.DataFrame.from_records(chunk, columns=fields)
        frame["_passes_filter"] = True if passing_ids is None else frame["Id"].isin(passing_ids)
        frame["_extracted_at"] = extracted_at
        frame["_run_id"] = run_id
        org_tables.upsert_records(conn, sobject, frame)
        total += len(frame)
        deleted += int(frame["IsDeleted"].fillna(False).astype(bool).sum())
        filtered_out += int((~frame["_passes_filter"]).sum())
        chunk_newest = pd.to_datetime(frame["SystemModstamp"], utc=True, format="ISO8601").max()
        if pd.notna(chunk_newest) and (newest is None or chunk_newest.to_pydatetime() > newest):
            newest = chunk_newest.to_pydatetime()

    validated = org_tables.validate_extracted(conn, sobject, everything=full_refresh)
    if newest is not None:
        # Never a mark ahead of the clock: a record stamped in the future (clock skew, a generated org) would hide
        # every change made before that instant from the next extraction; re-reading those records is harmless.
        newest = min(newest, clock.now())
    org_tables.set_watermark(conn, sobject, newest, extracted_at, queried_at)
    return ExtractionResult(sobject, total, deleted, filtered_out, mark, newest, soql, validated)
