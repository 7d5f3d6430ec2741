"""`sync.stripe_drift`: the Stripe objects the pipeline owns that the latest drift check found drifted (edited,
archived, ended or deleted in Stripe), one row each, with the contracts that use them and what the next sync of
those contracts would write."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import duckdb
import pandas as pd

from sf_stripe_pipeline.core.drift import DriftedObject
from sf_stripe_pipeline.warehouse.db import SyncTable, fetch_dicts, replace_rows

TABLE = SyncTable(
    "stripe_drift",
    """run_id VARCHAR, checked_at TIMESTAMPTZ, stripe_object VARCHAR, stripe_id VARCHAR, key VARCHAR,
    sf_object VARCHAR, sf_id VARCHAR, contract_keys VARCHAR[], kind VARCHAR, fields VARCHAR[],
    operations VARCHAR[], message VARCHAR""",
)
COLUMNS = [
    "run_id", "checked_at", "stripe_object", "stripe_id", "key", "sf_object", "sf_id", "contract_keys", "kind",
    "fields", "operations", "message",
]


def write(
    conn: duckdb.DuckDBPyConnection, *, run_id: str, checked_at: datetime, drifted: Sequence[DriftedObject]
) -> None:
    rows = pd.DataFrame(
        [
            {
                "run_id": run_id,
                "checked_at": checked_at,
                "stripe_object": found.stripe_object,
                "stripe_id": found.stripe_id,
                "key": found.key,
                "sf_object": found.sf_object,
                "sf_id": found.sf_id,
                "contract_keys": list(found.contract_keys),
                "kind": found.kind,
                "fields": list(found.fields),
                "operations": list(found.operations),
                "message": found.message or None,
            }
            for found in drifted
        ],
        columns=COLUMNS,
    )
    replace_rows(conn, TABLE.name, rows)


def rows(conn: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The latest check's drifted objects, in the order found (dependency order)."""
    return fetch_dicts(conn, f"SELECT * FROM {TABLE.qualified}")
