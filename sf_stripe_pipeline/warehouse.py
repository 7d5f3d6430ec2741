"""The DuckDB warehouse: table layout and the few SQL operations the assets share.

Schemas:
- `salesforce`: one table per Salesforce object, named by its API name (`salesforce."Order"`), one column per
  catalogue field, holding the latest extracted version of every record (deleted ones have `IsDeleted`).
  `_passes_filter` says whether the record passed the user's SOQL filter for its object when last extracted.
  `salesforce._watermarks` keeps the `SystemModstamp` high-water mark per object.
- `sync`: what the sync computed and did. `contract_validation`, `desired_objects`, `coupon_links`, `stripe_objects`,
  `plan` and `plan_notes` hold the latest materialization of their asset; `stripe_ledger` maps Salesforce keys to Stripe ids; and
  `sync_records` is the append-only audit trail, one row per write and per rejection, tied to its Dagster run.

DuckDB allows one writing process per file, so every connection here is short-lived and the jobs run their
steps in one process (see `defs/jobs.py`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
import pandas as pd

from sf_stripe_pipeline.salesforce import catalogue as sf_objects

SALESFORCE_SCHEMA = "salesforce"
SYNC_SCHEMA = "sync"

_DUCKDB_TYPES = {
    sf_objects.BOOLEAN: "BOOLEAN",
    sf_objects.DOUBLE: "DOUBLE",
    sf_objects.CURRENCY: "DOUBLE",
    sf_objects.PERCENT: "DOUBLE",
    sf_objects.INT: "BIGINT",
    sf_objects.DATE: "DATE",
    sf_objects.DATETIME: "TIMESTAMPTZ",
}
EXTRACTION_COLUMNS = {"_passes_filter": "BOOLEAN", "_extracted_at": "TIMESTAMPTZ", "_run_id": "VARCHAR"}

SYNC_TABLES: dict[str, str] = {
    "contract_validation": """
        run_id VARCHAR, partition_key VARCHAR, contract_key VARCHAR, order_ids VARCHAR[], account_id VARCHAR,
        status VARCHAR, violations JSON""",
    "desired_objects": """
        run_id VARCHAR, stripe_object VARCHAR, key VARCHAR, sf_object VARCHAR, sf_id VARCHAR, params JSON,
        linked_stripe_id VARCHAR, contract_keys VARCHAR[], depends_on VARCHAR[], cleared_paths VARCHAR[],
        end_now JSON""",
    "stripe_objects": """
        run_id VARCHAR, stripe_object VARCHAR, key VARCHAR, stripe_id VARCHAR, state VARCHAR, object JSON""",
    "plan": """
        run_id VARCHAR, partition_key VARCHAR, seq INTEGER, operation VARCHAR, stripe_object VARCHAR, key VARCHAR,
        sf_object VARCHAR, sf_id VARCHAR, stripe_id VARCHAR, params JSON, payload_hash VARCHAR,
        idempotency_key VARCHAR, contract_keys VARCHAR[], destructive BOOLEAN""",
    "coupon_links": """
        run_id VARCHAR, address VARCHAR, current_version BOOLEAN, snapshot JSON, quote_coupon JSON""",
    "plan_notes": """
        run_id VARCHAR, stripe_object VARCHAR, key VARCHAR, sf_object VARCHAR, sf_id VARCHAR, stripe_id VARCHAR,
        contract_keys VARCHAR[], message VARCHAR""",
    "stripe_ledger": """
        stripe_object VARCHAR, key VARCHAR, stripe_id VARCHAR, sf_object VARCHAR, sf_id VARCHAR,
        payload_hash VARCHAR, run_id VARCHAR, updated_at TIMESTAMPTZ, PRIMARY KEY (stripe_object, key)""",
    "sync_records": """
        run_id VARCHAR, partition_key VARCHAR, recorded_at TIMESTAMPTZ, contract_key VARCHAR,
        sf_object VARCHAR, sf_id VARCHAR, stripe_object VARCHAR, stripe_id VARCHAR, operation VARCHAR,
        status VARCHAR, message VARCHAR, idempotency_key VARCHAR, stripe_request_id VARCHAR""",
}


ADDED_COLUMNS = (("desired_objects", "end_now", "JSON"),)
"""Columns added to `sync` tables after their first release: (table, column, type)."""


def table_name(sobject: str) -> str:
    return f'{SALESFORCE_SCHEMA}."{sobject}"'


def sync_table(name: str) -> str:
    return f"{SYNC_SCHEMA}.{name}"


def prepare(conn: duckdb.DuckDBPyConnection) -> None:
    """Session setup every user of the warehouse needs: UTC session time zone, and every table in place."""
    conn.execute("SET TimeZone = 'UTC'")
    ensure_schema(conn)


def ensure_schema(conn: duckdb.DuckDBPyConnection) -> None:
    """Create every schema and table that does not exist yet (idempotent)."""
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SALESFORCE_SCHEMA}")
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SYNC_SCHEMA}")
    for sobject, spec in sf_objects.SOBJECTS.items():
        columns = [f'"{name}" {_DUCKDB_TYPES.get(field.type, "VARCHAR")}' for name, field in spec.fields.items()]
        columns += [f"{name} {sql_type}" for name, sql_type in EXTRACTION_COLUMNS.items()]
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {table_name(sobject)} ({', '.join(columns)}, PRIMARY KEY (\"Id\"))"
        )
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {SALESFORCE_SCHEMA}._watermarks "
        "(sobject VARCHAR PRIMARY KEY, system_modstamp TIMESTAMPTZ, extracted_at TIMESTAMPTZ)"
    )
    for name, columns in SYNC_TABLES.items():
        conn.execute(f"CREATE TABLE IF NOT EXISTS {sync_table(name)} ({columns})")
    for table, column, sql_type in ADDED_COLUMNS:  # warehouses created by an earlier version lack them
        conn.execute(f"ALTER TABLE {sync_table(table)} ADD COLUMN IF NOT EXISTS {column} {sql_type}")


def upsert_records(
    conn: duckdb.DuckDBPyConnection, sobject: str, records: pd.DataFrame
) -> None:
    """Insert or replace extracted records by Id. `records` has string-typed Salesforce values plus the
    extraction columns; DuckDB casts them to the catalogue's column types."""
    spec = sf_objects.SOBJECTS[sobject]
    casts = [
        f'CAST(records."{name}" AS {_DUCKDB_TYPES.get(field.type, "VARCHAR")}) AS "{name}"'
        for name, field in spec.fields.items()
    ]
    casts += [f"CAST(records.{name} AS {sql_type}) AS {name}" for name, sql_type in EXTRACTION_COLUMNS.items()]
    conn.register("records", records)
    try:
        conn.execute(f"INSERT OR REPLACE INTO {table_name(sobject)} SELECT {', '.join(casts)} FROM records")
    finally:
        conn.unregister("records")


def fetch_dicts(conn: duckdb.DuckDBPyConnection, sql: str, parameters: Sequence[Any] = ()) -> list[dict[str, Any]]:
    cursor = conn.execute(sql, list(parameters))
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def load_records(conn: duckdb.DuckDBPyConnection, sobjects: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """The latest extracted records of each object, typed (date, datetime, float, bool, str)."""
    return {
        sobject: [
            {name: value for name, value in row.items() if name not in ("_extracted_at", "_run_id")}
            for row in fetch_dicts(conn, f"SELECT * FROM {table_name(sobject)}")
        ]
        for sobject in sobjects
    }


def replace_rows(conn: duckdb.DuckDBPyConnection, table: str, rows: pd.DataFrame) -> None:
    """Replace the whole content of a `sync` table (the latest materialization of its asset), atomically."""
    conn.execute("BEGIN TRANSACTION")
    try:
        conn.execute(f"DELETE FROM {sync_table(table)}")
        append_rows(conn, table, rows)
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise


def append_rows(conn: duckdb.DuckDBPyConnection, table: str, rows: pd.DataFrame) -> None:
    if rows.empty:
        return
    conn.register("new_rows", rows)
    try:
        columns = ", ".join(f'"{name}"' for name in rows.columns)
        conn.execute(f"INSERT INTO {sync_table(table)} ({columns}) SELECT {columns} FROM new_rows")
    finally:
        conn.unregister("new_rows")


def ledger(conn: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """`stripe_object:key` -> Stripe id, for every object this pipeline has created or adopted."""
    rows = conn.execute(f"SELECT stripe_object, key, stripe_id FROM {sync_table('stripe_ledger')}").fetchall()
    return {f"{stripe_object}:{key}": stripe_id for stripe_object, key, stripe_id in rows}


def record_in_ledger(conn: duckdb.DuckDBPyConnection, entries: Sequence[Mapping[str, Any]]) -> None:
    if not entries:
        return
    frame = pd.DataFrame(list(entries))
    conn.register("ledger_rows", frame)
    try:
        conn.execute(
            f"INSERT OR REPLACE INTO {sync_table('stripe_ledger')} "
            "SELECT stripe_object, key, stripe_id, sf_object, sf_id, payload_hash, run_id, "
            "CAST(updated_at AS TIMESTAMPTZ) FROM ledger_rows"
        )
    finally:
        conn.unregister("ledger_rows")
