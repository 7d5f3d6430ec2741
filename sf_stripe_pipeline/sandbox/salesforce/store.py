"""The Salesforce sandbox's records on disk: one SQLite table per SObject, one typed column per field.

Why SQLite tables rather than JSON documents: SOQL compiles to SQL, so filtering, parent joins and
ordering run inside SQLite at C speed, and every single-record write is an indexed lookup plus an
insert, whatever the size of the org. WAL mode lets a Dagster run in another process read while this
one writes; each process opens its own connection and serialises its threads on one lock.

Values are stored in a form whose SQL order is the Salesforce order: dates as `YYYY-MM-DD`, datetimes
normalised to UTC `YYYY-MM-DDTHH:MM:SS.mmm+0000` (Salesforce's own wire format), checkboxes as 0/1
(never null, as in Salesforce), numbers as REAL or INTEGER.

This module also owns record validation, shared by the REST writes (errors as `SalesforceApiError`,
Salesforce's error codes) and by `replace_org` (errors as `OrgRecordError`, naming object, index and id).
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from sf_stripe_pipeline import clock
from sf_stripe_pipeline.salesforce import catalogue as objects
from sf_stripe_pipeline.sandbox import integrity
from sf_stripe_pipeline.sandbox.salesforce.ids import is_valid_id, make_id, to_18
from sf_stripe_pipeline.salesforce.catalogue import FieldSpec, SObjectSpec
from sf_stripe_pipeline.sandbox.salesforce.soql import BoolOp, Comparison, Condition, FieldRef, Not, Query

INSTANCE_URL = "https://sandbox.my.salesforce.com"
API_VERSION = "62.0"
API_PREFIX = f"/services/data/v{API_VERSION}"

DATABASE_FILE = "org.sqlite3"
APPLICATION_ID = 0x53465342  # "SFSB"
"""SQLite's header field for the application owning a file: marks a database as a Salesforce sandbox store."""
SYSTEM_FIELD_NAMES = frozenset({"Id", "IsDeleted", "CreatedDate", "LastModifiedDate", "SystemModstamp"})
"""Fields Salesforce maintains itself; REST writes may not set them."""

_FIRST_SANDBOX_SERIAL = 10 * 62**10  # ids "<prefix>0A…"; stays within SQLite INTEGER
"""Ids the sandbox issues start here, far from the small serials a generated org is likely to use."""


class SandboxStateError(RuntimeError):
    """The sandbox's on-disk store is damaged or is not a sandbox store; the message names the file and the fix."""

    def __init__(self, path: Path, problem: str):
        super().__init__(
            f"{path}: the Salesforce sandbox's store {problem}; recover with `sf-stripe-pipeline sandbox reset` "
            "(a fresh demo org) or `sf-stripe-pipeline sandbox load-org DIR` (an org snapshot)"
        )
        self.path = path
        self.problem = problem


class SalesforceApiError(Exception):
    """A request Salesforce would refuse: its HTTP status, error code, message and offending fields."""

    def __init__(self, http_status: int, error_code: str, message: str, fields: Sequence[str] = ()):
        super().__init__(message)
        self.http_status = http_status
        self.error_code = error_code
        self.message = message
        self.fields = list(fields)


class OrgRecordError(ValueError):
    """A record that cannot be loaded by `replace_org`.

    `index` is the record's position in its object's list (None when the whole object is refused) and
    `record_id` its Id when it has one.
    """

    def __init__(self, sobject: str, index: int | None, record_id: str | None, reason: str):
        where = f"{sobject}[{index}]" if index is not None else sobject
        super().__init__(f"{where} (Id {record_id or 'missing'}): {reason}")
        self.sobject = sobject
        self.index = index
        self.record_id = record_id
        self.reason = reason


# ---------------------------------------------------------------------------------------------- values


def format_datetime(instant: datetime) -> str:
    """Salesforce's datetime wire format, in UTC with milliseconds."""
    utc = instant.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


def sandbox_now() -> str:
    return format_datetime(clock.now())


def _encode_text(value: Any) -> str | None:
    if value is None or type(value) is str:
        return value
    raise ValueError("expected a string")


def _encode_boolean(value: Any) -> int:
    if value is None:  # a checkbox is never null: null means unchecked
        return 0
    if type(value) is bool:
        return int(value)
    raise ValueError("expected true or false")


def _encode_double(value: Any) -> float | None:
    if value is None:
        return None
    if type(value) in (int, float) and math.isfinite(value):
        return float(value)
    raise ValueError("expected a finite number")


def _encode_int(value: Any) -> int | None:
    if value is None or type(value) is int:
        return value
    if type(value) is float and value.is_integer():
        return int(value)
    raise ValueError("expected a whole number")


def _encode_date(value: Any) -> str | None:
    if value is None:
        return None
    if type(value) is str and len(value) == 10:
        try:
            date.fromisoformat(value)
            return value
        except ValueError:
            pass
    raise ValueError("expected a date like 2025-01-31")


_CANONICAL_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000")


def _encode_datetime(value: Any) -> str | None:
    if value is None:
        return None
    if type(value) is str:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if _CANONICAL_DATETIME.fullmatch(value):
                return value  # already in the stored form (the common case when loading an export)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return format_datetime(parsed)
    raise ValueError("expected a datetime with a time zone like 2025-01-31T09:30:00.000+0000")


def _encode_reference(value: Any) -> str | None:
    """15-character ids are completed to 18; whether an id exists is checked against the org separately."""
    if value is None:
        return None
    if type(value) is str:
        return value if len(value) == 18 else to_18(value) or value
    raise ValueError("expected an id string")


_ENCODERS: dict[str, Callable[[Any], Any]] = {
    objects.BOOLEAN: _encode_boolean,
    objects.INT: _encode_int,
    objects.DATE: _encode_date,
    objects.DATETIME: _encode_datetime,
    objects.REFERENCE: _encode_reference,
    **{numeric: _encode_double for numeric in objects.NUMERIC_TYPES - {objects.INT}},
    **{text: _encode_text for text in objects.TEXT_TYPES - {objects.REFERENCE}},
}
_SQL_TYPES = {objects.BOOLEAN: "INTEGER", objects.INT: "INTEGER"} | {
    numeric: "REAL" for numeric in objects.NUMERIC_TYPES - {objects.INT}
}


def _sql_literal_param(value: object) -> object:
    """A SOQL literal as the stored form it is compared with."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


# ---------------------------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class Table:
    """How one SObject is laid out in SQLite and turned into REST records."""

    spec: SObjectSpec
    columns: tuple[FieldSpec, ...]
    positions: dict[str, int]
    encoders: tuple[Callable[[Any], Any], ...]
    """Per column: a JSON value to its stored form; raises ValueError naming the expected kind of value."""
    reference_positions: tuple[tuple[int, FieldSpec], ...]
    blank_row: tuple[Any, ...]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def sql_name(self) -> str:
        return quote(self.spec.name)

    @property
    def column_list_sql(self) -> str:
        return ", ".join(quote(field.name) for field in self.columns)

    @property
    def insert_sql(self) -> str:
        placeholders = ", ".join("?" * len(self.columns))
        return f"INSERT INTO {self.sql_name} ({self.column_list_sql}) VALUES ({placeholders})"

    def record_url(self, record_id: str) -> str:
        return f"{API_PREFIX}/sobjects/{self.spec.name}/{record_id}"

    def create_statements(self) -> list[str]:
        column_sql = ", ".join(f"{quote(field.name)} {_SQL_TYPES.get(field.type, 'TEXT')}" for field in self.columns)
        statements = [
            f'CREATE TABLE IF NOT EXISTS {self.sql_name} ("_row" INTEGER PRIMARY KEY, {column_sql})',
            f'CREATE UNIQUE INDEX IF NOT EXISTS {quote(self.name + ".Id")} ON {self.sql_name}("Id")',
        ]
        for field in self.columns:
            if field.external_id:
                index_name = quote(f"{self.name}.{field.name}")
                statements.append(f"CREATE INDEX IF NOT EXISTS {index_name} ON {self.sql_name}({quote(field.name)})")
        return statements

    def encode(self, name: str, value: Any) -> Any:
        return self.encoders[self.positions[name]](value)

    @property
    def select_records_sql(self) -> str:
        """`SELECT` of every field of the records `t` as REST JSON texts, to add a WHERE or ORDER BY to."""
        return f"SELECT {self.record_json_sql('t', list(self.spec.fields))} FROM {self.sql_name} AS t"

    def record_json_sql(self, alias: str, names: Sequence[str], nested: Sequence[tuple[str, str]] = ()) -> str:
        """A SQL expression giving the REST JSON text of the record `alias` with fields `names`.

        `nested` adds (key, SQL expression) members whose values are JSON, for parent records. SQLite
        writes the JSON itself, so query pages never become Python dicts inside the sandbox."""
        url = f'{sql_string(self.record_url(""))} || {alias}."Id"'
        members = [("attributes", f"json_object('type', {sql_string(self.name)}, 'url', {url})")]
        members += [(name, _json_value_sql(f"{alias}.{quote(name)}", self.spec.fields[name].type)) for name in names]
        return _json_object_sql([*members, *nested])


_MAX_PAIRS_PER_CALL = 63
"""SQLite's default limit of 127 function arguments; wider objects grow by nested json_set calls."""


def _json_object_sql(members: Sequence[tuple[str, str]]) -> str:
    """`json_object(...)` of (key, SQL value) members, in order, however many there are."""

    def pairs(chunk: Sequence[tuple[str, str]], key_prefix: str) -> str:
        return ", ".join(f"{sql_string(key_prefix + key)}, {value}" for key, value in chunk)

    expression = f"json_object({pairs(members[:_MAX_PAIRS_PER_CALL], '')})"
    for start in range(_MAX_PAIRS_PER_CALL, len(members), _MAX_PAIRS_PER_CALL):
        expression = f"json_set({expression}, {pairs(members[start : start + _MAX_PAIRS_PER_CALL], '$.')})"
    return expression


def sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _json_value_sql(column: str, field_type: str) -> str:
    """A column as a json_object argument: checkboxes as true/false, doubles exactly."""
    if field_type == objects.BOOLEAN:
        return f"json(CASE WHEN {column} THEN 'true' ELSE 'false' END)"
    if _SQL_TYPES.get(field_type) == "REAL":
        # SQLite writes doubles with 15 significant digits; use 17 when 15 would not read back the same.
        return (
            f"CASE WHEN {column} IS NULL OR {column} = CAST(printf('%.15g', {column}) AS REAL) THEN {column} "
            f"ELSE json(printf('%!.17g', {column})) END"
        )
    return column


@cache
def table(sobject: str) -> Table:
    spec = objects.SOBJECTS[sobject]
    columns = tuple(spec.fields.values())
    if columns[0].name != "Id":
        raise AssertionError(f"{sobject}: the catalogue must list Id first")
    return Table(
        spec=spec,
        columns=columns,
        positions={field.name: position for position, field in enumerate(columns)},
        encoders=tuple(_ENCODERS[field.type] for field in columns),
        reference_positions=tuple((i, field) for i, field in enumerate(columns) if field.reference_to),
        blank_row=tuple(0 if field.type == objects.BOOLEAN else None for field in columns),
    )


def find_table(sobject: str) -> Table:
    if sobject not in objects.SOBJECTS:
        raise SalesforceApiError(404, "NOT_FOUND", f"The requested resource does not exist: sObject type {sobject!r}")
    return table(sobject)


# ---------------------------------------------------------------------------------------------- SOQL -> SQL


@dataclass(frozen=True)
class CompiledQuery:
    """A parsed SOQL query as two SQL statements: matching row numbers, then a page of rows by number."""

    query: Query
    row_numbers_sql: str
    params: tuple[Any, ...]
    page_sql: str
    """Takes a JSON array of row numbers; yields each record's REST JSON text, in that order."""


class _QueryCompiler:
    def __init__(self, query: Query):
        self.query = query
        self.base = table(query.sobject.name)
        self.aliases = {lookup.name: f"p{number}" for number, lookup in enumerate(query.relationships)}
        self.params: list[Any] = []

    def column(self, ref: FieldRef) -> str:
        alias = "t" if ref.relationship is None else self.aliases[ref.relationship.name]
        return f"{alias}.{quote(ref.field.name)}"

    def joins(self) -> str:
        return "".join(
            f' LEFT JOIN {quote(lookup.reference_to or "")} AS {alias} ON {alias}."Id" = t.{quote(lookup.name)}'
            for lookup_name, alias in self.aliases.items()
            for lookup in [self.base.spec.fields[lookup_name]]
        )

    def condition(self, condition: Condition) -> str:
        if isinstance(condition, Not):
            return f"NOT ({self.condition(condition.operand)})"
        if isinstance(condition, BoolOp):
            return "(" + f" {condition.operator} ".join(self.condition(c) for c in condition.operands) + ")"
        return self.comparison(condition)

    def comparison(self, comparison: Comparison) -> str:
        """Two-valued, as SOQL: `!=` and NOT IN match nulls; ordering operators never match nulls."""
        column = self.column(comparison.field)
        collate = _collation(comparison.field)
        operator, value = comparison.operator, comparison.value
        if operator in ("IN", "NOT IN"):
            values = [v for v in value if v is not None]  # type: ignore[union-attr]
            has_null = len(values) != len(value)  # type: ignore[arg-type]
            self.params.extend(_sql_literal_param(v) for v in values)
            listed = f"({column}{collate} IN ({', '.join('?' * len(values))}))" if values else "0"
            matches = f"({listed} OR {column} IS NULL)" if has_null else f"COALESCE({listed}, 0)"
            return matches if operator == "IN" else f"NOT {matches}"
        if value is None:
            return f"{column} IS {'NOT ' if operator == '!=' else ''}NULL"
        self.params.append(_sql_literal_param(value))
        if operator == "LIKE":
            return f"COALESCE({column} LIKE ? ESCAPE '\\', 0)"
        if operator == "!=":
            return f"{column} IS NOT ?{collate}"
        return f"COALESCE({column} {operator} ?{collate}, 0)"

    def order_by(self) -> str:
        terms = []
        for item in self.query.order_by:
            collate = _collation(item.field)
            direction = "DESC" if item.descending else "ASC"
            nulls = "FIRST" if item.nulls_first else "LAST"
            terms.append(f"{self.column(item.field)}{collate} {direction} NULLS {nulls}")
        terms.append('t."Id"')  # a stable order for pagination when the sort keys tie
        return ", ".join(terms)

    def compile(self, include_deleted: bool) -> CompiledQuery:
        filters = [] if include_deleted else ['t."IsDeleted" = 0']
        if self.query.where is not None:
            filters.append(self.condition(self.query.where))
        where = f" WHERE {' AND '.join(filters)}" if filters else ""
        limit = f" LIMIT {self.query.limit}" if self.query.limit is not None else ""
        source = f"{self.base.sql_name} AS t{self.joins()}"
        row_numbers_sql = f'SELECT t."_row" FROM {source}{where} ORDER BY {self.order_by()}{limit}'
        page_sql = (
            f"SELECT {self.record_json()} FROM json_each(?) AS page CROSS JOIN {self.base.sql_name} AS t"
            f' ON t."_row" = page.value{self.joins()} ORDER BY page.key'
        )
        return CompiledQuery(self.query, row_numbers_sql, tuple(self.params), page_sql)

    def record_json(self) -> str:
        """The selected fields as REST JSON, parents nested under their relationship names (null if none)."""
        own = [ref.field.name for ref in self.query.fields if ref.relationship is None]
        parent_fields: dict[str, list[str]] = {}  # lookup field name -> selected parent field names
        for ref in self.query.fields:
            if ref.relationship is not None:
                parent_fields.setdefault(ref.relationship.name, []).append(ref.field.name)
        nested = []
        for lookup_name, names in parent_fields.items():
            lookup = self.base.spec.fields[lookup_name]
            alias = self.aliases[lookup_name]
            parent_json = table(lookup.reference_to or "").record_json_sql(alias, names)
            nested.append(
                (lookup.relationship_name or "", f'CASE WHEN {alias}."Id" IS NOT NULL THEN {parent_json} END')
            )
        return self.base.record_json_sql("t", own, nested)


def _collation(ref: FieldRef) -> str:
    """Salesforce compares and sorts text case-insensitively, except ids, which are case-sensitive."""
    if ref.field.type in objects.TEXT_TYPES and ref.field.type not in (objects.ID, objects.REFERENCE):
        return " COLLATE NOCASE"
    return ""


def compile_query(query: Query, include_deleted: bool) -> CompiledQuery:
    return _QueryCompiler(query).compile(include_deleted)


# ---------------------------------------------------------------------------------------------- request log


WRITE_METHODS = ("POST", "PATCH", "PUT", "DELETE")


@dataclass(frozen=True)
class SalesforceRequestRecord:
    seq: int
    method: str
    path: str
    status: int
    at: str

    @property
    def is_write(self) -> bool:
        return self.method in WRITE_METHODS


# ---------------------------------------------------------------------------------------------- the store


class OrgStore:
    """The org's tables plus the request log and counters, in one SQLite database under `root`.

    Opening checks the file (SQLite's `quick_check`, tens of milliseconds for a 10,000-order org) and raises
    `SandboxStateError` if it is damaged or not a sandbox store, rather than answering from a broken org. With
    `discard_damaged`, a damaged store is moved aside to `org.sqlite3.damaged` and a fresh, empty one created: what
    `sandbox reset` and `sandbox load-org` do, since they replace the whole org anyway."""

    def __init__(self, root: str | Path, discard_damaged: bool = False):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.path = self.root / DATABASE_FILE
        self._lock = threading.RLock()
        try:
            self._connection = _open_database(self.path)
        except SandboxStateError:
            if not discard_damaged:
                raise
            _move_aside(self.path)
            self._connection = _open_database(self.path)
        with self.writing() as connection:
            self.create_schema(connection)

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    @staticmethod
    def create_schema(connection: sqlite3.Connection) -> None:
        """Create the tables the catalogue needs, and add columns a store from an older catalogue lacks."""
        connection.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)")
        connection.execute(
            "CREATE TABLE IF NOT EXISTS request_log "
            "(seq INTEGER PRIMARY KEY, method TEXT NOT NULL, path TEXT NOT NULL, status INTEGER NOT NULL, "
            "at TEXT NOT NULL)"
        )
        for sobject in objects.SOBJECTS:
            sobject_table = table(sobject)
            for statement in sobject_table.create_statements():
                connection.execute(statement)
            # A store created before the catalogue gained a field gets the new column (null).
            existing = {row[1] for row in connection.execute(f"PRAGMA table_info({sobject_table.sql_name})")}
            for field in sobject_table.columns:
                if field.name not in existing:
                    connection.execute(
                        f"ALTER TABLE {sobject_table.sql_name} ADD COLUMN {quote(field.name)} "
                        f"{_SQL_TYPES.get(field.type, 'TEXT')}"
                    )

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """One consistent snapshot of the database."""
        with self._lock:
            self._connection.execute("BEGIN")
            try:
                yield self._connection
            finally:
                self._connection.execute("COMMIT")

    @contextmanager
    def writing(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, committed if the block succeeds and rolled back if it raises."""
        with self._lock:
            self._connection.execute("BEGIN IMMEDIATE")
            try:
                yield self._connection
            except BaseException:
                self._connection.execute("ROLLBACK")
                raise
            self._connection.execute("COMMIT")

    # -- counters

    @staticmethod
    def meta(connection: sqlite3.Connection, key: str, default: int = 0) -> int:
        row = connection.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    @staticmethod
    def set_meta(connection: sqlite3.Connection, key: str, value: int) -> None:
        connection.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def generation(self, connection: sqlite3.Connection) -> int:
        """Bumped by every replace_org, so query cursors opened on an older org are refused."""
        return self.meta(connection, "generation")

    def new_id(self, connection: sqlite3.Connection, sobject: str) -> str:
        sobject_table = table(sobject)
        serial = self.meta(connection, "id_serial", _FIRST_SANDBOX_SERIAL)
        while True:
            serial += 1
            candidate = make_id(sobject_table.spec.key_prefix, serial)
            if self.find_row(connection, sobject_table, candidate) is None:
                break
        self.set_meta(connection, "id_serial", serial)
        return candidate

    # -- request log

    def log_request(self, method: str, path: str, status: int) -> int:
        """Record a handled request; returns its sequence number, which is also the API usage count."""
        with self.writing() as connection:
            cursor = connection.execute(
                "INSERT INTO request_log (method, path, status, at) VALUES (?, ?, ?, ?)",
                (method, path, status, sandbox_now()),
            )
            return cursor.lastrowid or 0

    def api_usage(self) -> int:
        with self.reading() as connection:
            return connection.execute("SELECT COALESCE(MAX(seq), 0) FROM request_log").fetchone()[0]

    def request_log(self) -> list[SalesforceRequestRecord]:
        with self.reading() as connection:
            rows = connection.execute("SELECT seq, method, path, status, at FROM request_log ORDER BY seq")
            return [SalesforceRequestRecord(*row) for row in rows]

    def write_count(self) -> int:
        """How many write requests (SalesforceRequestRecord.is_write) the log holds, counted without reading it."""
        with self.reading() as connection:
            query = f"SELECT count(*) FROM request_log WHERE method IN ({', '.join('?' * len(WRITE_METHODS))})"
            return connection.execute(query, WRITE_METHODS).fetchone()[0]

    def clear_request_log(self) -> None:
        with self.writing() as connection:
            connection.execute("DELETE FROM request_log")

    # -- reading records

    @staticmethod
    def find_row(connection: sqlite3.Connection, sobject_table: Table, record_id: str) -> tuple[Any, ...] | None:
        return connection.execute(
            f'SELECT {sobject_table.column_list_sql} FROM {sobject_table.sql_name} WHERE "Id" = ?', (record_id,)
        ).fetchone()

    def live_row(self, connection: sqlite3.Connection, sobject: str, record_id: str) -> tuple[Any, ...]:
        """The stored row of a record that exists and is not deleted; else Salesforce's 404."""
        sobject_table = find_table(sobject)
        row = self.find_row(connection, sobject_table, to_18(record_id) or record_id)
        if row is None:
            raise SalesforceApiError(404, "NOT_FOUND", f"The requested resource does not exist: {sobject} {record_id}")
        if row[sobject_table.positions["IsDeleted"]]:
            raise SalesforceApiError(404, "ENTITY_IS_DELETED", f"entity is deleted: {sobject} {record_id}")
        return row

    def get_record(self, connection: sqlite3.Connection, sobject: str, record_id: str) -> dict[str, Any]:
        record_id = self.live_row(connection, sobject, record_id)[0]
        sql = f'{table(sobject).select_records_sql} WHERE t."Id" = ?'
        return json.loads(connection.execute(sql, (record_id,)).fetchone()[0])

    @staticmethod
    def external_id_field(sobject: str, field_name: str) -> FieldSpec:
        """The field an upsert or lookup by external id names; Salesforce's errors if it is not one."""
        field = find_table(sobject).spec.fields.get(field_name)
        if field is None:
            raise SalesforceApiError(
                404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {field_name}"
            )
        if not field.external_id:
            raise SalesforceApiError(
                400,
                "INVALID_FIELD",
                f"Field {field_name} is not an external ID or indexed field for SObject {sobject}",
                [field_name],
            )
        return field

    @staticmethod
    def ids_by_external_id(connection: sqlite3.Connection, sobject: str, field: FieldSpec, value: Any) -> list[str]:
        """Ids of the live records whose external id `field` equals `value` (an index lookup)."""
        rows = connection.execute(
            f'SELECT "Id" FROM {table(sobject).sql_name} WHERE {quote(field.name)} = ? AND "IsDeleted" = 0',
            (value,),
        )
        return [row[0] for row in rows]

    def export(self) -> dict[str, list[dict[str, Any]]]:
        with self.reading() as connection:
            org = {}
            for sobject in objects.SOBJECTS:
                rows = connection.execute(f'{table(sobject).select_records_sql} ORDER BY t."Id"')
                org[sobject] = json.loads("[" + ",".join(row[0] for row in rows) + "]")
            return org

    # -- writing records (inside `writing()`)

    def encode_changes(self, connection: sqlite3.Connection, sobject: str, body: Any) -> dict[str, Any]:
        """A REST request body as column values, validated as Salesforce does; raises SalesforceApiError."""
        sobject_table = find_table(sobject)
        if not isinstance(body, Mapping):
            raise SalesforceApiError(400, "JSON_PARSER_ERROR", f"{sobject}: the record must be a JSON object")
        changes: dict[str, Any] = {}
        for name, value in body.items():
            if name == "attributes":
                continue
            if name not in sobject_table.positions:
                raise SalesforceApiError(
                    400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {sobject}", [name]
                )
            if name in SYSTEM_FIELD_NAMES:
                raise SalesforceApiError(
                    400,
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    f"Unable to create/update fields: {name}. {sobject}.{name} is maintained by Salesforce.",
                    [name],
                )
            try:
                changes[name] = sobject_table.encode(name, value)
            except ValueError as problem:
                field_type = sobject_table.spec.fields[name].type
                raise SalesforceApiError(
                    400,
                    "INVALID_TYPE_ON_FIELD_IN_RECORD",
                    f"{name}: value not of required type: {value!r} ({sobject}.{name} is a {field_type}: {problem})",
                    [name],
                ) from None
        self._check_references(connection, sobject_table, changes)
        return changes

    def _check_references(self, connection: sqlite3.Connection, sobject_table: Table, changes: dict[str, Any]):
        for name, value in changes.items():
            target = sobject_table.spec.fields[name].reference_to
            if target is None or value is None:
                continue
            row = self.find_row(connection, table(target), value)
            if row is None or row[table(target).positions["IsDeleted"]]:
                raise SalesforceApiError(
                    400,
                    "INVALID_CROSS_REFERENCE_KEY",
                    f"invalid cross reference id: {sobject_table.name}.{name} = {value!r} is not an existing "
                    f"{target} record",
                    [name],
                )

    def insert(self, connection: sqlite3.Connection, sobject: str, changes: dict[str, Any], now: str) -> str:
        sobject_table = table(sobject)
        record_id = self.new_id(connection, sobject)
        row = list(sobject_table.blank_row)
        for name, value in {**changes, "Id": record_id, "CreatedDate": now}.items():
            row[sobject_table.positions[name]] = value
        _fill_timestamps(sobject_table, row, now)
        connection.execute(sobject_table.insert_sql, row)
        return record_id

    def update(
        self, connection: sqlite3.Connection, sobject: str, record_id: str, changes: dict[str, Any], now: str
    ) -> None:
        """Set already-encoded `changes` on a live record, stamping LastModifiedDate and SystemModstamp."""
        full_id = self.live_row(connection, sobject, record_id)[0]
        changes = {**changes, "LastModifiedDate": now, "SystemModstamp": now}
        assignments = ", ".join(f"{quote(name)} = ?" for name in changes)
        connection.execute(
            f'UPDATE {table(sobject).sql_name} SET {assignments} WHERE "Id" = ?', [*changes.values(), full_id]
        )

    def delete(self, connection: sqlite3.Connection, sobject: str, record_id: str, now: str) -> None:
        """Soft delete, as Salesforce's recycle bin: the record stays visible to queryAll."""
        self.update(connection, sobject, record_id, {"IsDeleted": 1}, now)

    # -- the whole org

    def replace_org(self, org: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, int]:
        now = sandbox_now()
        rows_by_object = {sobject: self._encode_loaded(sobject, records, now) for sobject, records in org.items()}
        ids_by_object = {sobject: {row[0] for row in rows_by_object.get(sobject, ())} for sobject in objects.SOBJECTS}
        for sobject, rows in rows_by_object.items():
            _check_loaded_references(sobject, rows, ids_by_object)
        with self.writing() as connection:
            for sobject in objects.SOBJECTS:
                sobject_table = table(sobject)
                connection.execute(f"DELETE FROM {sobject_table.sql_name}")
                connection.executemany(sobject_table.insert_sql, rows_by_object.get(sobject, ()))
            connection.execute("DELETE FROM request_log")
            self.set_meta(connection, "generation", self.generation(connection) + 1)
        return {sobject: len(rows_by_object.get(sobject, ())) for sobject in objects.SOBJECTS}

    def _encode_loaded(self, sobject: str, records: Sequence[Mapping[str, Any]], now: str) -> list[list[Any]]:
        if sobject not in objects.SOBJECTS:
            raise OrgRecordError(sobject, None, None, f"unknown object {sobject!r}; see objects.SOBJECTS")
        if isinstance(records, (str, bytes, Mapping)) or not isinstance(records, Sequence):
            raise OrgRecordError(sobject, None, None, "the records must be a list")
        sobject_table = table(sobject)
        seen: set[str] = set()
        rows = []
        for index, record in enumerate(records):
            record_id = record.get("Id") if isinstance(record, Mapping) else None
            try:
                rows.append(_encode_loaded_record(sobject_table, record, seen, now))
            except ValueError as problem:
                raise OrgRecordError(
                    sobject, index, record_id if isinstance(record_id, str) else None, str(problem)
                ) from None
        return rows


# ---------------------------------------------------------------------------------------------- opening safely

_DAMAGE_ERRORS = ("SQLITE_NOTADB", "SQLITE_CORRUPT")
_STORE_TABLES = frozenset({"meta", "request_log"})


def _open_database(path: Path) -> sqlite3.Connection:
    """A connection to the store at `path`, created if missing; SandboxStateError if the file cannot be one."""
    if not path.exists():
        _create_database(path)
    if path.stat().st_size == 0:  # a store is never empty: it is created whole (see _create_database)
        raise SandboxStateError(path, "is empty (0 bytes)")
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=60)
    try:
        if not integrity.known_intact(path):
            _check_database(connection, path)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        integrity.mark_intact(path)
    except sqlite3.DatabaseError as problem:
        connection.close()
        if not getattr(problem, "sqlite_errorname", "").startswith(_DAMAGE_ERRORS):
            raise  # e.g. a lock held too long: not damage
        raise SandboxStateError(path, f"is damaged or not an SQLite database ({problem})") from None
    except SandboxStateError:
        connection.close()
        raise
    return connection


def _check_database(connection: sqlite3.Connection, path: Path) -> None:
    """Raise SandboxStateError unless `connection` is a sandbox store whose pages and records are well formed."""
    application_id = connection.execute("PRAGMA application_id").fetchone()[0]
    if application_id != APPLICATION_ID:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")}
        if application_id != 0 or not _STORE_TABLES <= tables:
            raise SandboxStateError(path, "is an SQLite database but not a Salesforce sandbox store")
        connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")  # a store from before the marker
    findings = [row[0] for row in connection.execute("PRAGMA quick_check(3)")]
    if findings != ["ok"]:
        detail = "; ".join(line for finding in findings for line in finding.splitlines() if not line.startswith("***"))
        raise SandboxStateError(path, f"is damaged (SQLite quick_check: {detail[:300]})")


def _create_database(path: Path) -> None:
    """Create an empty store at `path` atomically: built aside, then linked into place unless another process
    created one meanwhile. So a store file is never seen half-made, and an empty file always means damage."""
    building = path.with_name(f"{path.name}.{secrets.token_hex(6)}.new")
    connection = sqlite3.connect(building, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        connection.execute("BEGIN")
        OrgStore.create_schema(connection)
        connection.execute("COMMIT")
    finally:
        connection.close()  # the last connection checkpoints the WAL into the file and removes it
    try:
        os.link(building, path)
    except FileExistsError:
        pass
    finally:
        building.unlink()


def _move_aside(path: Path) -> None:
    """Keep a damaged store (and its WAL) as `<name>.damaged`, replacing an older damaged copy."""
    for suffix in ("", "-wal", "-shm"):
        source = path.with_name(path.name + suffix)
        if source.exists():
            os.replace(source, path.with_name(f"{path.name}.damaged{suffix}"))


def _fill_timestamps(sobject_table: Table, row: list[Any], now: str) -> None:
    """A new row's CreatedDate, LastModifiedDate and SystemModstamp default to `now`."""
    for name in ("CreatedDate", "LastModifiedDate", "SystemModstamp"):
        position = sobject_table.positions[name]
        if row[position] is None:
            row[position] = now


def _encode_loaded_record(sobject_table: Table, record: Any, seen_ids: set[str], now: str) -> list[Any]:
    """One record given to replace_org as a stored row; raises ValueError with the reason it is refused."""
    if not isinstance(record, Mapping):
        raise ValueError("the record must be an object")
    record_id = record.get("Id")
    if not is_valid_id(record_id, sobject_table.spec.key_prefix):
        raise ValueError(
            f"Id must be an 18-character {sobject_table.name} id starting {sobject_table.spec.key_prefix!r} "
            "with a valid suffix"
        )
    if record_id in seen_ids:
        raise ValueError("duplicate Id")
    seen_ids.add(record_id)
    row = list(sobject_table.blank_row)
    for name, value in record.items():
        position = sobject_table.positions.get(name)
        if position is None:
            if name == "attributes":
                continue
            raise ValueError(f"unknown field {name!r}")
        if value is None:
            continue  # the blank row already holds the stored form of null
        try:
            row[position] = sobject_table.encoders[position](value)
        except ValueError as problem:
            field_type = sobject_table.columns[position].type
            raise ValueError(f"field {name!r} ({field_type}): {problem}, got {value!r}") from None
    _fill_timestamps(sobject_table, row, now)
    return row


def _check_loaded_references(sobject: str, rows: list[list[Any]], ids_by_object: dict[str, set[str]]) -> None:
    references = table(sobject).reference_positions
    for index, row in enumerate(rows):
        for position, field in references:
            value = row[position]
            if value is not None and value not in ids_by_object[field.reference_to or ""]:
                raise OrgRecordError(
                    sobject,
                    index,
                    row[0],
                    f"field {field.name!r} refers to {value!r}, which is not a {field.reference_to} record of this org",
                )
