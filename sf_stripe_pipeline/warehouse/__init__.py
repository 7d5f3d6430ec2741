"""The DuckDB warehouse (`$SF_STRIPE_HOME/warehouse.duckdb`): one module per table, each holding the table's
declaration and the code that writes and reads it.

- `org`: schema `salesforce`, one table per Salesforce object (`salesforce."Order"`), one column per catalogue
  field, holding the latest extracted version of every record (deleted ones have `IsDeleted`;
  `_passes_filter` says whether it passed the user's SOQL filter), plus the extraction watermarks and the values
  that fail their object's pandera schema (`_schema_failures`, found once, when extraction upserts the record).
- schema `sync`, what the sync computed and did: `validation` (contract_validation), `desired` (desired_objects,
  coupon_links), `actual` (stripe_objects) and `plan` (plan, plan_notes) hold the latest materialization of their
  asset (contract_validation is a view of the latest assessment of each contract in scope: `validation` keeps
  contract_assessments, every contract's latest, which a run reuses for the contracts whose inputs are unchanged),
  and `drift` (stripe_drift) that of the drift check; `ledger` (stripe_ledger) maps Salesforce keys to
  Stripe ids (and the digest of each object when its contracts were last in sync), with the write-ahead log of
  requests (stripe_intents); `audit` (sync_records) is the append-only audit trail, one row per write and per
  rejection, tied to its Dagster run.

DuckDB allows one writing process per file, so every connection is short-lived and a run's steps share one process
(see `defs/jobs.py`).
"""

from __future__ import annotations

import duckdb

from sf_stripe_pipeline.warehouse import actual, audit, desired, drift, ledger, org, plan, validation
from sf_stripe_pipeline.warehouse.db import (
    SALESFORCE_SCHEMA,
    SYNC_SCHEMA,
    append_rows,
    fetch_dicts,
    replace_rows,
    sync_table,
    table_columns,
)
from sf_stripe_pipeline.warehouse.org import table_name

SYNC_TABLES = (
    validation.ASSESSMENTS,
    validation.SCOPE,
    desired.TABLE,
    desired.COUPON_LINKS,
    actual.TABLE,
    plan.TABLE,
    plan.NOTES,
    ledger.TABLE,
    ledger.INTENTS,
    audit.TABLE,
    drift.TABLE,
)

__all__ = [
    "SALESFORCE_SCHEMA",
    "SYNC_SCHEMA",
    "SYNC_TABLES",
    "append_rows",
    "ensure_schema",
    "fetch_dicts",
    "prepare",
    "replace_rows",
    "sync_table",
    "table_name",
]


def prepare(conn: duckdb.DuckDBPyConnection) -> None:
    """Session setup every user of the warehouse needs: UTC session time zone, and every table in place."""
    conn.execute("SET TimeZone = 'UTC'")
    ensure_schema(conn)


def ensure_schema(conn: duckdb.DuckDBPyConnection) -> None:
    """Create every schema and table that does not exist yet (idempotent)."""
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SALESFORCE_SCHEMA}")
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SYNC_SCHEMA}")
    existing = table_columns(conn, [SALESFORCE_SCHEMA, SYNC_SCHEMA])
    org.create_tables(conn, existing)
    for table in SYNC_TABLES:
        table.create(conn, existing.get((SYNC_SCHEMA, table.name)))
    validation.create_view(conn)
