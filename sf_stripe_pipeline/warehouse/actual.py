"""`sync.stripe_objects`: the Stripe object behind each desired object as the latest read found it, or `unchanged`
(not read: its contracts are as they were when last in sync, core/unchanged.py), with the desired object's digest
that the ledger keeps once the run leaves its contracts in sync."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
import pandas as pd

from sf_stripe_pipeline.stripe.reads import ActualObject
from sf_stripe_pipeline.warehouse.db import SyncTable, fetch_dicts, replace_rows

TABLE = SyncTable(
    "stripe_objects",
    "run_id VARCHAR, stripe_object VARCHAR, key VARCHAR, stripe_id VARCHAR, state VARCHAR, object JSON, "
    "desired_digest VARCHAR",
    added_columns=(("desired_digest", "VARCHAR"),),
)
UNCHANGED = "unchanged"


def write(
    conn: duckdb.DuckDBPyConnection,
    run_id: str,
    actual: Sequence[ActualObject],
    unchanged: Mapping[str, str],
    digests: Mapping[str, str],
) -> None:
    """The objects read (`actual`) and those left unread (`unchanged`: address -> Stripe id)."""
    rows = pd.DataFrame(
        [
            {
                "run_id": run_id,
                "stripe_object": found.ref.split(":", 1)[0],
                "key": found.ref.split(":", 1)[1],
                "stripe_id": found.stripe_id,
                "state": found.state,
                "object": json.dumps(found.body) if found.body is not None else None,
                "desired_digest": digests.get(found.ref),
            }
            for found in actual
        ]
        + [
            {
                "run_id": run_id,
                "stripe_object": address.split(":", 1)[0],
                "key": address.split(":", 1)[1],
                "stripe_id": stripe_id,
                "state": UNCHANGED,
                "object": None,
                "desired_digest": digests.get(address),
            }
            for address, stripe_id in unchanged.items()
        ],
        columns=["run_id", "stripe_object", "key", "stripe_id", "state", "object", "desired_digest"],
    )
    replace_rows(conn, TABLE.name, rows)


def bodies(conn: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any] | None]:
    """`stripe_object:key` -> the Stripe object as read (None: missing); unchanged objects are not in it."""
    rows = fetch_dicts(conn, f"SELECT stripe_object, key, object FROM {TABLE.qualified} WHERE state <> ?", [UNCHANGED])
    return {
        f"{row['stripe_object']}:{row['key']}": json.loads(row["object"]) if row["object"] else None for row in rows
    }


def found_ids(conn: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """`stripe_object:key` -> Stripe id of every object the read found (adopted ones included) or left unread."""
    return _ids(conn, ["found", UNCHANGED])


def unchanged_ids(conn: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """`stripe_object:key` -> Stripe id of the objects left unread (their contracts are unchanged)."""
    return _ids(conn, [UNCHANGED])


def _ids(conn: duckdb.DuckDBPyConnection, states: list[str]) -> dict[str, str]:
    rows = conn.execute(
        f"SELECT stripe_object, key, stripe_id FROM {TABLE.qualified} WHERE state IN ?", [states]
    ).fetchall()
    return {f"{stripe_object}:{key}": stripe_id for stripe_object, key, stripe_id in rows}


def desired_digests(conn: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """`stripe_object:key` -> the digest of the desired object the latest read was for."""
    rows = conn.execute(
        f"SELECT stripe_object, key, desired_digest FROM {TABLE.qualified} WHERE desired_digest IS NOT NULL"
    ).fetchall()
    return {f"{stripe_object}:{key}": digest for stripe_object, key, digest in rows}
