"""`sync.stripe_ledger`: the Stripe id of every object this pipeline created or adopted, by its Salesforce key."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
import pandas as pd

from sf_stripe_pipeline.warehouse.db import SyncTable

TABLE = SyncTable(
    "stripe_ledger",
    """stripe_object VARCHAR, key VARCHAR, stripe_id VARCHAR, sf_object VARCHAR, sf_id VARCHAR,
    payload_hash VARCHAR, run_id VARCHAR, updated_at TIMESTAMPTZ, PRIMARY KEY (stripe_object, key)""",
)


def ids(conn: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """`stripe_object:key` -> Stripe id."""
    rows = conn.execute(f"SELECT stripe_object, key, stripe_id FROM {TABLE.qualified}").fetchall()
    return {f"{stripe_object}:{key}": stripe_id for stripe_object, key, stripe_id in rows}


def record(conn: duckdb.DuckDBPyConnection, entries: Sequence[Mapping[str, Any]]) -> None:
    if not entries:
        return
    frame = pd.DataFrame(list(entries))
    conn.register("ledger_rows", frame)
    try:
        conn.execute(
            f"INSERT OR REPLACE INTO {TABLE.qualified} "
            "SELECT stripe_object, key, stripe_id, sf_object, sf_id, payload_hash, run_id, "
            "CAST(updated_at AS TIMESTAMPTZ) FROM ledger_rows"
        )
    finally:
        conn.unregister("ledger_rows")
