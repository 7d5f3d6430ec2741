"""Connection-level helpers every warehouse table module shares: schema names, table declarations, reads and
atomic replaces."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import duckdb
import pandas as pd

SALESFORCE_SCHEMA = "salesforce"
SYNC_SCHEMA = "sync"


def sync_table(name: str) -> str:
    return f"{SYNC_SCHEMA}.{name}"


@dataclass(frozen=True)
class SyncTable:
    """A table of the `sync` schema: its columns, and the columns added after its first release."""

    name: str
    columns: str
    added_columns: tuple[tuple[str, str], ...] = ()
    """(column, type) that warehouses created by an earlier version lack."""

    @property
    def qualified(self) -> str:
        return sync_table(self.name)

    def create(self, conn: duckdb.DuckDBPyConnection, existing: Mapping[str, str] | None = None) -> None:
        """Create the table, or add the columns it lacks. `existing`: its columns now (None: absent, or not known)."""
        if existing is None:
            conn.execute(f"CREATE TABLE IF NOT EXISTS {self.qualified} ({self.columns})")
        for column, sql_type in self.added_columns:
            if existing is None or column not in existing:
                conn.execute(f"ALTER TABLE {self.qualified} ADD COLUMN IF NOT EXISTS {column} {sql_type}")


def table_columns(conn: duckdb.DuckDBPyConnection, schemas: Sequence[str]) -> dict[tuple[str, str], dict[str, str]]:
    """(schema, table) -> column -> type, for every table of `schemas`: one query, for checking a warehouse's
    layout at every step."""
    rows = conn.execute(
        "SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema IN ?",
        [list(schemas)],
    ).fetchall()
    found: dict[tuple[str, str], dict[str, str]] = {}
    for schema, table, column, data_type in rows:
        found.setdefault((schema, table), {})[column] = data_type
    return found


def fetch_dicts(conn: duckdb.DuckDBPyConnection, sql: str, parameters: Sequence[Any] = ()) -> list[dict[str, Any]]:
    cursor = conn.execute(sql, list(parameters))
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


@contextmanager
def transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Everything in the block commits together, or (on any exception, an interrupt too) not at all."""
    conn.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def replace_rows(conn: duckdb.DuckDBPyConnection, table: str, rows: pd.DataFrame) -> None:
    """Replace the whole content of a `sync` table (the latest materialization of its asset), atomically."""
    with transaction(conn):
        conn.execute(f"DELETE FROM {sync_table(table)}")
        append_rows(conn, table, rows)


def append_rows(conn: duckdb.DuckDBPyConnection, table: str, rows: pd.DataFrame) -> None:
    if rows.empty:
        return
    conn.register("new_rows", rows)
    try:
        columns = ", ".join(f'"{name}"' for name in rows.columns)
        conn.execute(f"INSERT INTO {sync_table(table)} ({columns}) SELECT {columns} FROM new_rows")
    finally:
        conn.unregister("new_rows")


def snapshot_json_value(value: Any) -> Any:
    """A snapshot value as JSON, as it goes back to Salesforce when the snapshot is created (F43): a number stays a
    JSON number (an int when whole; else the float whose shortest text is the same decimal, exact for the few
    significant digits of a coupon amount or percent), anything else (dates) its text. simple-salesforce writes
    with json.dumps, which takes no Decimal."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return str(value)
