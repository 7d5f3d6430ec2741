"""The `salesforce` schema: one table per catalogue object holding the latest extracted version of every record,
and the extraction watermarks; and the org snapshot the sync's core reads from them.

Numbers are stored exactly: Salesforce double, currency and percent fields as DECIMAL(38,18), int fields as
BIGINT. A Salesforce number has at most 18 digits in all, so 20 integer and 18 fractional digits hold every legal
value. A value the column cannot hold exactly (or that is no number) never fails the extraction: it is stored as
NULL and named in the record's `_unstorable_numbers` flag, which the pandera schemas report on that record.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import duckdb
import pandas as pd

from sf_stripe_pipeline.core.coupons import SNAPSHOT
from sf_stripe_pipeline.core.org import CHANGE_STAMPS, UNSTORABLE_NUMBERS, VERSION, OrgSnapshot
from sf_stripe_pipeline.core.schemas import FAILURE_COLUMNS, records_frame, schema_digest, schema_failures
from sf_stripe_pipeline.salesforce import catalogue
from sf_stripe_pipeline.warehouse.db import SALESFORCE_SCHEMA, fetch_dicts, table_columns, transaction

NUMBER_INTEGER_DIGITS, NUMBER_PLACES = 20, 18
NUMBER_TYPE = f"DECIMAL({NUMBER_INTEGER_DIGITS + NUMBER_PLACES},{NUMBER_PLACES})"
INTEGER_RANGE = (-(2**63), 2**63 - 1)  # BIGINT
_DUCKDB_TYPES = {
    catalogue.BOOLEAN: "BOOLEAN",
    catalogue.DOUBLE: NUMBER_TYPE,
    catalogue.CURRENCY: NUMBER_TYPE,
    catalogue.PERCENT: NUMBER_TYPE,
    catalogue.INT: "BIGINT",
    catalogue.DATE: "DATE",
    catalogue.DATETIME: "TIMESTAMPTZ",
}
EXTRACTION_COLUMNS = {
    "_passes_filter": "BOOLEAN",
    "_extracted_at": "TIMESTAMPTZ",
    "_run_id": "VARCHAR",
    UNSTORABLE_NUMBERS: "VARCHAR",
}
WATERMARKS = f"{SALESFORCE_SCHEMA}._watermarks"
SCHEMA_FAILURES = f"{SALESFORCE_SCHEMA}._schema_failures"
"""Every value of the extracted records that fails its object's pandera schema (core/schemas.py), kept up to date
by extraction for the records it upserts: the records are validated once, not again by every run."""
VALIDATED_VERSIONS = f"{SALESFORCE_SCHEMA}._validated_versions"
"""Per record, the version (core.org.VERSION) its stored failures were found at, and the upsert (`_extracted_at`)
it was compared at: a record upserted since (by the latest extraction, or by one that stopped before validating)
has its version compared again, and is validated again at another version."""
VALIDATED_SCHEMAS = f"{SALESFORCE_SCHEMA}._validated_schemas"
"""Per object, the schema digest its stored failures were found with (another digest: validate the table again)."""
ORG_OBJECTS = [sobject for sobject in catalogue.SOBJECTS if sobject != "Sync_Record__c"]
"""What the sync reads; its own Sync_Record__c rows are compared separately (see `sync_record_rows`)."""


def table_name(sobject: str) -> str:
    return f'{SALESFORCE_SCHEMA}."{sobject}"'


def create_tables(
    conn: duckdb.DuckDBPyConnection, existing: Mapping[tuple[str, str], Mapping[str, str]] | None = None
) -> None:
    """Create the schema's tables, or upgrade those an earlier version made. `existing`: db.table_columns."""
    existing = table_columns(conn, [SALESFORCE_SCHEMA]) if existing is None else existing
    for sobject, spec in catalogue.SOBJECTS.items():
        current = existing.get((SALESFORCE_SCHEMA, sobject))
        if current is not None:
            _upgrade_columns(conn, sobject, current)
            continue
        columns = [f'"{name}" {_DUCKDB_TYPES.get(field.type, "VARCHAR")}' for name, field in spec.fields.items()]
        columns += [f"{name} {sql_type}" for name, sql_type in EXTRACTION_COLUMNS.items()]
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {table_name(sobject)} ({', '.join(columns)}, PRIMARY KEY (\"Id\"))"
        )
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {WATERMARKS} "
        "(sobject VARCHAR PRIMARY KEY, system_modstamp TIMESTAMPTZ, extracted_at TIMESTAMPTZ, queried_at TIMESTAMPTZ)"
    )
    if "queried_at" not in existing.get((SALESFORCE_SCHEMA, "_watermarks"), {"queried_at": ""}):
        conn.execute(f"ALTER TABLE {WATERMARKS} ADD COLUMN IF NOT EXISTS queried_at TIMESTAMPTZ")
    conn.execute(
        f'CREATE TABLE IF NOT EXISTS {SCHEMA_FAILURES} (sobject VARCHAR, "Id" VARCHAR, "column" VARCHAR, '
        '"check" VARCHAR, failure_case VARCHAR)'
    )
    conn.execute(f"CREATE TABLE IF NOT EXISTS {VALIDATED_SCHEMAS} (sobject VARCHAR PRIMARY KEY, schema_digest VARCHAR)")
    conn.execute(
        f'CREATE TABLE IF NOT EXISTS {VALIDATED_VERSIONS} (sobject VARCHAR, "Id" VARCHAR, version VARCHAR, '
        "extracted_at TIMESTAMPTZ)"
    )
    if "extracted_at" not in existing.get((SALESFORCE_SCHEMA, "_validated_versions"), {"extracted_at": ""}):
        conn.execute(f"ALTER TABLE {VALIDATED_VERSIONS} ADD COLUMN IF NOT EXISTS extracted_at TIMESTAMPTZ")


def _upgrade_columns(conn: duckdb.DuckDBPyConnection, sobject: str, current: Mapping[str, str]) -> None:
    """A warehouse made by an earlier version (`current`: column -> type): DOUBLE numbers become exact DECIMALs
    (through their shortest text, so 0.1 stays 0.1), and extraction columns added since are added."""
    for name, field in catalogue.SOBJECTS[sobject].fields.items():
        if _DUCKDB_TYPES.get(field.type) == NUMBER_TYPE and current.get(name) == "DOUBLE":
            conn.execute(
                f'ALTER TABLE {table_name(sobject)} ALTER COLUMN "{name}" SET DATA TYPE {NUMBER_TYPE} '
                f'USING TRY_CAST(CAST("{name}" AS VARCHAR) AS {NUMBER_TYPE})'
            )
    for name, sql_type in EXTRACTION_COLUMNS.items():
        if name not in current:
            conn.execute(f"ALTER TABLE {table_name(sobject)} ADD COLUMN IF NOT EXISTS {name} {sql_type}")


def _number_text(value: Any, *, integer: bool) -> tuple[str | None, bool]:
    """(the exact text DuckDB casts, whether its column holds it) for one extracted number; (None, True) for null.
    JSON clients give Decimal (parse_float=Decimal) or int; a float from another client is read by its shortest
    text."""
    if value is None or (isinstance(value, float) and value != value):
        return None, True
    if isinstance(value, bool):
        return None, False
    text = format(value, "f") if isinstance(value, Decimal) else repr(value) if isinstance(value, float) else str(value)
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        return None, False
    if not number.is_finite():
        return None, False
    if integer:
        fits = number == number.to_integral_value() and INTEGER_RANGE[0] <= number <= INTEGER_RANGE[1]
        return (str(int(number)), True) if fits else (None, False)
    digits = number.normalize().as_tuple()
    places = max(-digits.exponent, 0)
    fits = places <= NUMBER_PLACES and number.adjusted() < NUMBER_INTEGER_DIGITS
    return (format(number, "f"), True) if fits else (None, False)


def _exact_number_columns(sobject: str, records: pd.DataFrame) -> pd.DataFrame:
    """`records` with every number as exact text (cast by DuckDB, never inferred from Python values, which can lose
    digits) and `_unstorable_numbers` naming the values stored as NULL because their column cannot hold them."""
    records = records.copy()
    unstorable: list[list[str]] = [[] for _ in range(len(records))]
    for name, field in catalogue.SOBJECTS[sobject].fields.items():
        if field.type not in catalogue.NUMERIC_TYPES or name not in records.columns:
            continue
        texts = []
        for row, value in enumerate(records[name].tolist()):
            text, fits = _number_text(value, integer=field.type == catalogue.INT)
            texts.append(text)
            if not fits:
                unstorable[row].append(f"{name} {value!s}"[:200])
        records[name] = pd.Series(texts, index=records.index, dtype=object)
    records[UNSTORABLE_NUMBERS] = pd.Series(
        ["; ".join(found) or None for found in unstorable], index=records.index, dtype=object
    )
    return records


def upsert_records(conn: duckdb.DuckDBPyConnection, sobject: str, records: pd.DataFrame) -> None:
    """Insert or replace extracted records by Id. `records` has the Salesforce values as the client parsed them plus
    the extraction columns; numbers go in as exact text and DuckDB casts every value to its column's type."""
    spec = catalogue.SOBJECTS[sobject]
    records = _exact_number_columns(sobject, records)
    casts = [
        f'{"TRY_CAST" if field.type in catalogue.NUMERIC_TYPES else "CAST"}'
        f'(records."{name}" AS {_DUCKDB_TYPES.get(field.type, "VARCHAR")}) AS "{name}"'
        for name, field in spec.fields.items()
    ]
    casts += [f"CAST(records.{name} AS {sql_type}) AS {name}" for name, sql_type in EXTRACTION_COLUMNS.items()]
    conn.register("records", records)
    try:
        conn.execute(f"INSERT OR REPLACE INTO {table_name(sobject)} SELECT {', '.join(casts)} FROM records")
    finally:
        conn.unregister("records")


def forget_org(conn: duckdb.DuckDBPyConnection) -> bool:
    """Drop every extracted table, the watermarks and the stored schema failures (they are made again, empty, by
    `create_tables`). True if there was anything to drop."""
    tables = conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = ?", [SALESFORCE_SCHEMA]
    ).fetchall()
    for (table,) in tables:
        conn.execute(f'DROP TABLE {SALESFORCE_SCHEMA}."{table}"')
    return bool(tables)


SETTLED = timedelta(minutes=10)
"""How long after a second ends its records are taken as all visible: a record is stamped when written but seen
once its transaction commits, and no Salesforce transaction runs longer than 10 minutes; the margin also absorbs
skew between this clock and Salesforce's. An extraction that queried this long after the mark's second need not be
followed by one reading that second again."""


def watermark(conn: duckdb.DuckDBPyConnection, sobject: str) -> tuple[datetime | None, datetime | None]:
    """(the newest SystemModstamp extracted, when the extraction that reached it queried, by the sync's clock)."""
    rows = conn.execute(f"SELECT system_modstamp, queried_at FROM {WATERMARKS} WHERE sobject = ?", [sobject]).fetchall()
    return rows[0] if rows else (None, None)


def read_from(mark: datetime | None, queried_at: datetime | None) -> datetime | None:
    """The first instant (a whole second: SOQL's literals are) the next extraction must read from: the mark's
    second again, since a record stamped later in that second may have been written after the query; or, when that
    query ran `SETTLED` after the second ended, the next second."""
    if mark is None:
        return None
    second = mark.replace(microsecond=0)
    after = second + timedelta(seconds=1)
    return after if queried_at is not None and queried_at >= after + SETTLED else second


def set_watermark(
    conn: duckdb.DuckDBPyConnection, sobject: str, system_modstamp, extracted_at, queried_at: datetime
) -> None:
    conn.execute(
        f"INSERT OR REPLACE INTO {WATERMARKS} (sobject, system_modstamp, extracted_at, queried_at) VALUES (?, ?, ?, ?)",
        [sobject, system_modstamp, extracted_at, queried_at],
    )


def _rows(
    conn: duckdb.DuckDBPyConnection,
    sobject: str,
    ids: Sequence[str] | None = None,
    *,
    versions: bool = False,
    field: str = "Id",
    where: str | None = None,
) -> tuple[list[str], list]:
    """(column names, rows) of the extracted records of `sobject` (those whose `field` is one of `ids`, or that meet
    the SQL condition `where`, or all), in the table's order, extraction columns the core does not read left out;
    `versions`: with each record's version (core.org.VERSION, a digest of the rest)."""
    conditions = [*([f'"{field}" IN ?'] if ids is not None else []), *([where] if where else [])]
    condition = f" WHERE {' AND '.join(conditions)} ORDER BY rowid" if conditions else ""
    # Decimals, dates and timestamps come as text, quicker to fetch; the snapshot types them once per distinct value.
    as_text = [name for name, spec in catalogue.SOBJECTS[sobject].fields.items() if spec.type in _FETCHED_AS_TEXT]
    casts = ", ".join(f'CAST("{name}" AS VARCHAR) AS "{name}"' for name in as_text)
    replace = f" REPLACE ({casts})" if as_text else ""
    query = f"SELECT * EXCLUDE (_extracted_at, _run_id){replace} FROM {table_name(sobject)}{condition}"
    if versions:
        query = f"SELECT record.*, {_VERSION_OF_RECORD} AS {VERSION} FROM ({query}) AS record"
    cursor = conn.execute(query, [list(ids)] if ids is not None else [])
    return [column[0] for column in cursor.description], cursor.fetchall()


_FETCHED_AS_TEXT = {catalogue.DOUBLE, catalogue.CURRENCY, catalogue.PERCENT, catalogue.DATE, catalogue.DATETIME}
_VERSION_OF_RECORD = "md5(CAST(row(*COLUMNS(* EXCLUDE ({}))) AS VARCHAR))".format(
    ", ".join(f'"{stamp}"' for stamp in CHANGE_STAMPS)
)
"""A record's version: the digest of its stored values, less the extraction's own bookkeeping and the stamps of when
it last changed (which move on every write, the pipeline's own write-backs included, and which no assessment reads:
a contract's orders are ordered by them before it is assessed, see core/contracts.py)."""


def load_org(conn: duckdb.DuckDBPyConnection, sobjects: Sequence[str] = ORG_OBJECTS) -> OrgSnapshot:
    """The extracted org (or some of its objects) as the core's OrgSnapshot, read table by table as rows, with each
    record's version."""
    return OrgSnapshot.from_rows((sobject, _rows(conn, sobject, versions=True)) for sobject in sobjects)


class WarehouseOrg(OrgSnapshot):
    """The extracted org as the core's OrgSnapshot, read from the warehouse as the core asks for it: a record by Id,
    the children of a parent, or a whole object (then held whole, as `load_org` holds it). A run that touches a few
    contracts of a large org (a manual sync) reads what they read, in queries, and never loads the rest. Records,
    child lists and versions are those `load_org` gives: the same rows, in the table's order, typed alike; one dict
    per record, whichever way it was reached."""

    def __init__(self, conn: duckdb.DuckDBPyConnection):
        super().__init__({})
        self._conn = conn
        self._whole: set[str] = set()
        self._absent: dict[str, set[str]] = {}
        self._listed: dict[tuple[str, str], dict[str, list[dict]]] = {}

    @property
    def objects_loaded_whole(self) -> frozenset[str]:
        """The objects some read needed whole (a scan): loaded as `load_org` would."""
        return frozenset(self._whole)

    def _fetch(self, sobject: str, field: str = "Id", values: Sequence[str] | None = None) -> list[dict]:
        """The records of `sobject` whose `field` is one of `values` (all: None), typed, one dict per Id."""
        part = OrgSnapshot.from_rows([(sobject, _rows(self._conn, sobject, values, versions=True, field=field))])
        known = self._by_id.setdefault(sobject, {})
        self._versions.setdefault(sobject, {}).update(part._versions.get(sobject, {}))
        return [known.setdefault(record["Id"], record) for record in part.records(sobject)]

    def prefetch(self, sobject: str, ids: Iterable[str | None]) -> None:
        """Read the records of `ids` not read yet, in one query."""
        if sobject in self._whole:
            return
        known, absent = self._by_id.setdefault(sobject, {}), self._absent.setdefault(sobject, set())
        wanted = sorted({record_id for record_id in ids if record_id is not None} - known.keys() - absent)
        if wanted:
            self._fetch(sobject, "Id", wanted)
            absent.update(record_id for record_id in wanted if record_id not in known)

    def prefetch_children(self, sobject: str, parent_field: str, parent_ids: Iterable[str | None]) -> None:
        """Read the child lists of `parent_ids` not read yet, in one query."""
        if sobject in self._whole:
            return
        listed = self._listed.setdefault((sobject, parent_field), {})
        wanted = sorted({parent for parent in parent_ids if parent is not None} - listed.keys())
        if not wanted:
            return
        for parent in wanted:
            listed[parent] = []
        for record in self._fetch(sobject, parent_field, wanted):
            listed[record[parent_field]].append(record)

    def get(self, sobject: str, record_id: str | None) -> dict | None:
        if record_id is None:
            return None
        if sobject not in self._whole:
            self.prefetch(sobject, [record_id])
            return self._by_id[sobject].get(record_id)
        return super().get(sobject, record_id)

    def records(self, sobject: str) -> list[dict]:
        if sobject not in self._whole:
            self._records[sobject] = self._fetch(sobject)
            self._whole.add(sobject)
        return super().records(sobject)

    def children(self, sobject: str, parent_field: str, parent_id: str) -> list[dict]:
        if parent_id is None:
            return []
        if sobject in self._whole:
            return super().children(sobject, parent_field, parent_id)
        self.prefetch_children(sobject, parent_field, [parent_id])
        return self._listed[(sobject, parent_field)][parent_id]


def stripe_id_sharers(conn: duckdb.DuckDBPyConnection, sobjects: Sequence[str]) -> OrgSnapshot:
    """The records of `sobjects` whose `Stripe_ID__c` another record of the same object not deleted holds too, in
    the table's order: all that `core.rules.shared_record_violations` needs of the org (found in SQL, the rest
    never loaded). Ids are unique in the warehouse (its primary key)."""
    def shared(sobject: str) -> str:
        return (
            f'"Stripe_ID__c" IN (SELECT "Stripe_ID__c" FROM {table_name(sobject)} WHERE "Stripe_ID__c" <> \'\' '
            'AND NOT coalesce("IsDeleted", false) GROUP BY "Stripe_ID__c" HAVING count(*) > 1)'
        )

    return OrgSnapshot.from_rows((sobject, _rows(conn, sobject, where=shared(sobject))) for sobject in sobjects)


def orders_changed_in(conn: duckdb.DuckDBPyConnection, window: tuple[datetime, datetime]) -> list[str]:
    """The Ids of the orders activated, or one of whose records changed, in [start, end): the order, its quote, its
    lines and its coupon snapshots (`core.contracts.order_records`), found in SQL: what
    `core.contracts.contracts_in_scope` selects a window's contracts by, so a narrow window (live sync) need not
    load the org to find them. An Id with lines but no Order is among them when a line changed. It must cover
    every record `order_records` yields (test_warehouse_org compares the two over the demo org's windows)."""

    def changed(alias: str, *stamps: str) -> str:
        return " OR ".join(f'{alias}."{stamp}" >= $start AND {alias}."{stamp}" < $end' for stamp in stamps)

    objects = ("Order", "OrderItem", "SBQQ__Quote__c", SNAPSHOT)
    order, line, quote, snapshot = (table_name(sobject) for sobject in objects)
    query = f"""
        SELECT o."Id" FROM {order} AS o WHERE {changed("o", "ActivatedDate", *CHANGE_STAMPS)}
        UNION SELECT o."Id" FROM {order} AS o JOIN {quote} AS q ON q."Id" = o."SBQQ__Quote__c"
            WHERE {changed("q", *CHANGE_STAMPS)}
        UNION SELECT l."OrderId" FROM {line} AS l WHERE {changed("l", *CHANGE_STAMPS)}
        UNION SELECT s."Order__c" FROM {snapshot} AS s WHERE {changed("s", *CHANGE_STAMPS)}
        UNION SELECT l."OrderId" FROM {line} AS l JOIN {snapshot} AS s ON s."Order_Item__c" = l."Id"
            WHERE {changed("s", *CHANGE_STAMPS)}
    """
    rows = conn.execute(query, {"start": window[0], "end": window[1]}).fetchall()
    return sorted(order_id for (order_id,) in rows if order_id)  # as build_contracts: a blank OrderId names none


def typed_records(conn: duckdb.DuckDBPyConnection, sobject: str, ids: Sequence[str] | None = None) -> list[dict]:
    """Extracted records of one object (those of `ids`, or all), typed as the org snapshot has them."""
    return OrgSnapshot.from_rows([(sobject, _rows(conn, sobject, ids))]).records(sobject)


def _upserted_since_compared(conn: duckdb.DuckDBPyConnection, sobject: str) -> dict[str, tuple[Any, str | None]]:
    """Id -> (`_extracted_at`, the version its stored failures were found at) of the records of `sobject` upserted
    since their version was last compared with that one (or never compared): only these can be at another version."""
    query = (
        f'SELECT record."Id", record._extracted_at, done.version FROM {table_name(sobject)} AS record '
        f'LEFT JOIN {VALIDATED_VERSIONS} AS done ON done.sobject = ? AND done."Id" = record."Id" '
        'WHERE done."Id" IS NULL OR done.extracted_at IS DISTINCT FROM record._extracted_at'
    )
    rows = conn.execute(query, [sobject]).fetchall()
    return {record_id: (extracted_at, found_at) for record_id, extracted_at, found_at in rows}


def _versions(conn: duckdb.DuckDBPyConnection, sobject: str, ids: Sequence[str] | None) -> dict[str, str]:
    """Id -> version (as `VALIDATED_VERSIONS` holds them) of the records of `ids`, or all."""
    where = ' WHERE "Id" IN ?' if ids is not None else ""
    query = (
        f"SELECT record.\"Id\", {_VERSION_OF_RECORD} AS version FROM (SELECT * EXCLUDE (_extracted_at, _run_id) "
        f"FROM {table_name(sobject)}{where}) AS record"
    )
    return dict(conn.execute(query, [list(ids)] if ids is not None else []).fetchall())


def validate_extracted(conn: duckdb.DuckDBPyConnection, sobject: str, *, everything: bool = False) -> int:
    """Validate against the object's schema every record whose stored failures were not found at its version
    (upserted since with other values: by this extraction, or by one that stopped before validating), or the whole
    table (`everything`, or when the stored failures were found with another schema, or none), and store what
    fails in place of what they failed before. Returns how many records were validated."""
    digest = schema_digest(sobject)
    stored = conn.execute(f"SELECT schema_digest FROM {VALIDATED_SCHEMAS} WHERE sobject = ?", [sobject]).fetchone()
    everything = everything or stored is None or stored[0] != digest
    if everything:
        every = conn.execute(f'SELECT "Id", _extracted_at FROM {table_name(sobject)}').fetchall()
        upserted = {record_id: (extracted_at, None) for record_id, extracted_at in every}
        versions = _versions(conn, sobject, None)
        changed = list(versions)
    else:
        upserted = _upserted_since_compared(conn, sobject)
        if not upserted:
            return 0
        versions = _versions(conn, sobject, list(upserted))
        # Read again unchanged (the watermark's second): compared now, not validated again.
        changed = [record_id for record_id, version in versions.items() if upserted[record_id][1] != version]
    records = typed_records(conn, sobject, None if everything else changed) if everything or changed else []
    failures = schema_failures(sobject, records_frame(sobject, records)) if records else None
    compared = pd.DataFrame(
        {
            "sobject": sobject,
            "Id": list(upserted),
            "version": [versions.get(record_id) for record_id in upserted],
            "extracted_at": [extracted_at for extracted_at, _ in upserted.values()],
        },
        dtype=object,
    )
    with transaction(conn):
        if everything:
            for table in (SCHEMA_FAILURES, VALIDATED_VERSIONS):
                conn.execute(f"DELETE FROM {table} WHERE sobject = ?", [sobject])
        else:
            forget = 'DELETE FROM {} WHERE sobject = ? AND list_contains(?, "Id")'
            conn.execute(forget.format(SCHEMA_FAILURES), [sobject, changed])
            conn.execute(forget.format(VALIDATED_VERSIONS), [sobject, list(upserted)])
        if failures is not None and not failures.empty:
            conn.register("failures", failures.assign(sobject=sobject))
            try:
                conn.execute(
                    f'INSERT INTO {SCHEMA_FAILURES} SELECT sobject, CAST("Id" AS VARCHAR), "column", "check", '
                    "failure_case FROM failures"
                )
            finally:
                conn.unregister("failures")
        conn.register("compared", compared)
        try:
            conn.execute(
                f'INSERT INTO {VALIDATED_VERSIONS} SELECT sobject, "Id", version, CAST(extracted_at AS TIMESTAMPTZ) '
                "FROM compared"
            )
        finally:
            conn.unregister("compared")
        conn.execute(f"INSERT OR REPLACE INTO {VALIDATED_SCHEMAS} VALUES (?, ?)", [sobject, digest])
    return len(records)


def fingerprint(conn: duckdb.DuckDBPyConnection) -> str:
    """A digest of everything the sync reads of the extracted org: every stored value of every record (change stamps
    and filter flags included, not when or by which run it was extracted) and the stored schema failures. Equal
    fingerprints, equal org: a run compares it to skip work an unchanged org would only repeat. One scan of each
    table, hashed in DuckDB (count, xor and sum of 64-bit row hashes, free of row order: tens of milliseconds for
    10,000 orders)."""
    hashed = [
        f"SELECT '{sobject}', count(*), bit_xor(hash(record)), sum(CAST(hash(record) AS HUGEINT)) "
        f"FROM (SELECT * EXCLUDE (_extracted_at, _run_id) FROM {table_name(sobject)}) AS record"
        for sobject in ORG_OBJECTS
    ]
    hashed.append(
        f"SELECT '{SCHEMA_FAILURES}', count(*), bit_xor(hash(failure)), sum(CAST(hash(failure) AS HUGEINT)) "
        f"FROM {SCHEMA_FAILURES} AS failure"
    )
    rows = conn.execute(" UNION ALL ".join(hashed)).fetchall()
    return hashlib.blake2b(repr(sorted(rows)).encode(), digest_size=16).hexdigest()


def record_ids(conn: duckdb.DuckDBPyConnection, sobject: str) -> set[str]:
    """The Ids of the extracted records of `sobject` (deleted ones included)."""
    return {record_id for (record_id,) in conn.execute(f'SELECT "Id" FROM {table_name(sobject)}').fetchall()}


def record_count(conn: duckdb.DuckDBPyConnection, sobject: str) -> int:
    """How many records of `sobject` the warehouse holds (deleted ones included)."""
    [(count,)] = conn.execute(f"SELECT count(*) FROM {table_name(sobject)}").fetchall()
    return count


def stored_schema_failures(conn: duckdb.DuckDBPyConnection, sobjects: Sequence[str]) -> dict[str, pd.DataFrame]:
    """The stored failures of each object (columns of core.schemas.FAILURE_COLUMNS)."""
    query = (
        f'SELECT sobject, "Id", "column", "check", failure_case FROM {SCHEMA_FAILURES} WHERE sobject IN ? '
        'ORDER BY sobject, "Id", "column", "check", failure_case'
    )
    frame = conn.execute(query, [list(sobjects)]).df()
    return {sobject: rows[FAILURE_COLUMNS].reset_index(drop=True) for sobject, rows in frame.groupby("sobject")}


def sync_record_rows(conn: duckdb.DuckDBPyConnection, primary_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The Sync_Record__c rows Salesforce held at extraction about the records of `primary_ids` (compared so a
    re-run writes only what changed)."""
    query = f'SELECT * FROM {table_name("Sync_Record__c")} WHERE "Primary_Record_ID__c" IN ?'
    return fetch_dicts(conn, query, [list(primary_ids)])
