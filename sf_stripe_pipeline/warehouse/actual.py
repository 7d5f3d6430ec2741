"""`sync.stripe_objects`: the Stripe object behind each desired object as the latest read found it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import duckdb
import pandas as pd

from sf_stripe_pipeline.stripe.reads import ActualObject
from sf_stripe_pipeline.warehouse.db import SyncTable, fetch_dicts, replace_rows

TABLE = SyncTable(
    "stripe_objects", "run_id VARCHAR, stripe_object VARCHAR, key VARCHAR, stripe_id VARCHAR, state VARCHAR, object JSON"
)


def write(conn: duckdb.DuckDBPyConnection, run_id: str, actual: Sequence[ActualObject]) -> None:
    rows = pd.DataFrame(
        [
            {
                "run_id": run_id,
                "stripe_object": found.ref.split(":", 1)[0],
                "key": found.ref.split(":", 1)[1],
                "stripe_id": found.stripe_id,
                "state": found.state,
                "object": json.dumps(found.body) if found.body is not None else None,
            }
            for found in actual
        ],
        columns=["run_id", "stripe_object", "key", "stripe_id", "state", "object"],
    )
    replace_rows(conn, TABLE.name, rows)


def bodies(conn: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any] | None]:
    """`stripe_object:key` -> the Stripe object as read (None: missing)."""
    rows = fetch_dicts(conn, f"SELECT stripe_object, key, object FROM {TABLE.qualified}")
    return {
        f"{row['stripe_object']}:{row['key']}": json.loads(row["object"]) if row["object"] else None for row in rows
    }


def found_ids(conn: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """`stripe_object:key` -> Stripe id of every object the read found (adopted ones included)."""
    rows = fetch_dicts(conn, f"SELECT stripe_object, key, stripe_id FROM {TABLE.qualified} WHERE state = 'found'")
    return {f"{row['stripe_object']}:{row['key']}": row["stripe_id"] for row in rows}
