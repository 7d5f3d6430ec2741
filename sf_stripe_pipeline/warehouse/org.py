"""The `salesforce` schema: one table per catalogue object holding the latest extracted version of every record,
and the extraction watermarks; and the org snapshot the sync's core reads from them."""

from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd

from sf_stripe_pipeline.core.org import OrgSnapshot
from sf_stripe_pipeline.salesforce import catalogue
from sf_stripe_pipeline.warehouse.db import SALESFORCE_SCHEMA, fetch_dicts

_DUCKDB_TYPES = {
    catalogue.BOOLEAN: "BOOLEAN",
    catalogue.DOUBLE: "DOUBLE",
    catalogue.CURRENCY: "DOUBLE",
    catalogue.PERCENT: "DOUBLE",
    catalogue.INT: "BIGINT",
    catalogue.DATE: "DATE",
    catalogue.DATETIME: "TIMESTAMPTZ",
}
EXTRACTION_COLUMNS = {"_passes_filter": "BOOLEAN", "_extracted_at": "TIMESTAMPTZ", "_run_id": "VARCHAR"}
WATERMARKS = f"{SALESFORCE_SCHEMA}._watermarks"
ORG_OBJECTS = [sobject for sobject in catalogue.SOBJECTS if sobject != "Sync_Record__c"]
"""What the sync reads; its own Sync_Record__c rows are compared separately (see `sync_record_rows`)."""


def table_name(sobject: str) -> str:
    return f'{SALESFORCE_SCHEMA}."{sobject}"'


def create_tables(conn: duckdb.DuckDBPyConnection) -> None:
    for sobject, spec in catalogue.SOBJECTS.items():
        columns = [f'"{name}" {_DUCKDB_TYPES.get(field.type, "VARCHAR")}' for name, field in spec.fields.items()]
        columns += [f"{name} {sql_type}" for name, sql_type in EXTRACTION_COLUMNS.items()]
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {table_name(sobject)} ({', '.join(columns)}, PRIMARY KEY (\"Id\"))"
        )
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {WATERMARKS} "
        "(sobject VARCHAR PRIMARY KEY, system_modstamp TIMESTAMPTZ, extracted_at TIMESTAMPTZ)"
    )


def upsert_records(conn: duckdb.DuckDBPyConnection, sobject: str, records: pd.DataFrame) -> None:
    """Insert or replace extracted records by Id. `records` has string-typed Salesforce values plus the
    extraction columns; DuckDB casts them to the catalogue's column types."""
    spec = catalogue.SOBJECTS[sobject]
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


def watermark(conn: duckdb.DuckDBPyConnection, sobject: str):
    rows = conn.execute(f"SELECT system_modstamp FROM {WATERMARKS} WHERE sobject = ?", [sobject]).fetchall()
    return rows[0][0] if rows else None


def set_watermark(conn: duckdb.DuckDBPyConnection, sobject: str, system_modstamp, extracted_at) -> None:
    conn.execute(f"INSERT OR REPLACE INTO {WATERMARKS} VALUES (?, ?, ?)", [sobject, system_modstamp, extracted_at])


def load_records(conn: duckdb.DuckDBPyConnection, sobjects: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The latest extracted records of each object, typed (date, datetime, float, bool, str)."""
    return {
        sobject: [
            {name: value for name, value in row.items() if name not in ("_extracted_at", "_run_id")}
            for row in fetch_dicts(conn, f"SELECT * FROM {table_name(sobject)}")
        ]
        for sobject in sobjects
    }


def load_org(conn: duckdb.DuckDBPyConnection) -> OrgSnapshot:
    """The extracted org as the core's OrgSnapshot."""
    return OrgSnapshot(load_records(conn, ORG_OBJECTS))


def sync_record_rows(conn: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The Sync_Record__c rows Salesforce held at extraction (compared so a re-run writes only what changed)."""
    return fetch_dicts(conn, f"SELECT * FROM {table_name('Sync_Record__c')}")
