"""`sync.stripe_ledger`: the Stripe id of every object this pipeline created or adopted, by its Salesforce key;
and `sync.stripe_intents`, the write-ahead log of the requests that make them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
import pandas as pd

from sf_stripe_pipeline.core.unchanged import LedgerEntry
from sf_stripe_pipeline.warehouse.db import SyncTable, fetch_dicts

TABLE = SyncTable(
    "stripe_ledger",
    """stripe_object VARCHAR, key VARCHAR, stripe_id VARCHAR, sf_object VARCHAR, sf_id VARCHAR,
    payload_hash VARCHAR, run_id VARCHAR, updated_at TIMESTAMPTZ, synced_digest VARCHAR,
    PRIMARY KEY (stripe_object, key)""",
    added_columns=(("synced_digest", "VARCHAR"),),
)
"""`synced_digest`: the desired object's digest when its contracts were last wholly in sync (core/unchanged.py)."""


def ids(conn: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """`stripe_object:key` -> Stripe id."""
    return {address: entry.stripe_id for address, entry in entries(conn).items()}


def entries(conn: duckdb.DuckDBPyConnection, addresses: Sequence[str] | None = None) -> dict[str, LedgerEntry]:
    """`stripe_object:key` -> its Stripe id and synced digest (of those `addresses`, or all)."""
    query = f"SELECT stripe_object, key, stripe_id, synced_digest FROM {TABLE.qualified}"
    if addresses is not None:
        query += " WHERE stripe_object || ':' || key IN ?"
    rows = conn.execute(query, [list(addresses)] if addresses is not None else []).fetchall()
    return {f"{stripe_object}:{key}": LedgerEntry(stripe_id, digest) for stripe_object, key, stripe_id, digest in rows}


def set_synced_digests(conn: duckdb.DuckDBPyConnection, digests: Mapping[str, str | None]) -> None:
    """Set (or clear, None) the synced digest of ledger rows by `stripe_object:key`."""
    if not digests:
        return
    frame = pd.DataFrame(
        [(*address.split(":", 1), digest) for address, digest in digests.items()],
        columns=["stripe_object", "key", "synced_digest"],
    )
    conn.register("synced_digests", frame)
    try:
        conn.execute(
            f"UPDATE {TABLE.qualified} AS ledger SET synced_digest = new.synced_digest FROM synced_digests AS new "
            "WHERE ledger.stripe_object = new.stripe_object AND ledger.key = new.key"
        )
    finally:
        conn.unregister("synced_digests")


def record(conn: duckdb.DuckDBPyConnection, entries: Sequence[Mapping[str, Any]]) -> None:
    """Insert or replace ledger rows, in the caller's transaction if any."""
    if not entries:
        return
    frame = pd.DataFrame(list(entries))
    conn.register("ledger_rows", frame)
    try:
        conn.execute(
            f"INSERT OR REPLACE INTO {TABLE.qualified} "
            "SELECT stripe_object, key, stripe_id, sf_object, sf_id, payload_hash, run_id, "
            "CAST(updated_at AS TIMESTAMPTZ), NULL FROM ledger_rows"
        )
    finally:
        conn.unregister("ledger_rows")


INTENTS = SyncTable(
    "stripe_intents",
    """stripe_object VARCHAR, key VARCHAR, operation VARCHAR, state VARCHAR, target_id VARCHAR, stripe_id VARCHAR,
    payload_hash VARCHAR, idempotency_key VARCHAR, generation INTEGER, sent_at BIGINT, message VARCHAR,
    run_id VARCHAR, updated_at TIMESTAMPTZ, PRIMARY KEY (stripe_object, key, operation)""",
)
"""The write-ahead log of Stripe requests: one row per operation (object, key, operation), its last attempt.
`state` is `sent` from just before the request until its outcome is known (a crash leaves it so: the request may
have reached Stripe), then `success`, `rejected` or `failed`. `sent_at` (Unix seconds on Stripe's clock) is the
earliest attempt whose outcome is unknown, where a lookup for what it may have created starts."""
INTENT_COLUMNS = [
    "stripe_object", "key", "operation", "state", "target_id", "stripe_id", "payload_hash", "idempotency_key",
    "generation", "sent_at", "message", "run_id", "updated_at",
]


def intents(conn: duckdb.DuckDBPyConnection, keys: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The intent rows (those of objects with one of `keys`, or all)."""
    where = " WHERE list_contains(?, key)" if keys is not None else ""
    query = f"SELECT {', '.join(INTENT_COLUMNS)} FROM {INTENTS.qualified}{where}"
    return fetch_dicts(conn, query, [sorted(set(keys))] if keys is not None else [])


def record_intents(conn: duckdb.DuckDBPyConnection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert or replace intent rows (all of INTENT_COLUMNS), in the caller's transaction if any."""
    if not rows:
        return
    frame = pd.DataFrame(list(rows), columns=INTENT_COLUMNS)
    conn.register("intent_rows", frame)
    try:
        conn.execute(
            f"INSERT OR REPLACE INTO {INTENTS.qualified} SELECT stripe_object, key, operation, state, target_id, "
            "stripe_id, payload_hash, idempotency_key, CAST(generation AS INTEGER), CAST(sent_at AS BIGINT), message, "
            "run_id, CAST(updated_at AS TIMESTAMPTZ) FROM intent_rows"
        )
    finally:
        conn.unregister("intent_rows")
