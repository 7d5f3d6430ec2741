"""`sync.desired_objects` and `sync.coupon_links`: the Stripe objects Salesforce implies for the valid contracts in
scope, and the coupon uses behind them (the Salesforce snapshots and write-backs they need, F43/F44)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import duckdb
import pandas as pd

from sf_stripe_pipeline.core import DesiredObject, coupons
from sf_stripe_pipeline.warehouse.db import SyncTable, append_rows, fetch_dicts, snapshot_json_value, transaction

TABLE = SyncTable(
    "desired_objects",
    """run_id VARCHAR, stripe_object VARCHAR, key VARCHAR, sf_object VARCHAR, sf_id VARCHAR, params JSON,
    linked_stripe_id VARCHAR, contract_keys VARCHAR[], depends_on VARCHAR[], cleared_paths VARCHAR[],
    end_now JSON, merged_from VARCHAR""",
    added_columns=(("end_now", "JSON"), ("merged_from", "VARCHAR")),
)
"""`merged_from`: what the objects were merged from (the code's version and the digest of the contracts' objects and
links, validation.syncing_digest), the same on every row."""
COUPON_LINKS = SyncTable(
    "coupon_links", "run_id VARCHAR, address VARCHAR, current_version BOOLEAN, snapshot JSON, quote_coupon JSON"
)
_COLUMNS = [
    "run_id", "stripe_object", "key", "sf_object", "sf_id", "params", "linked_stripe_id", "contract_keys",
    "depends_on", "cleared_paths", "end_now", "merged_from",
]


_LATEST: dict[str, tuple[str, list[DesiredObject]]] = {}
"""Database file -> (run id, the objects of that run's table, as written or as first decoded). The later assets of a
run that execute in the same process (the in-process executor the CLI and the jobs use) take them instead of
decoding every row again; any other reader, or a table another run has replaced or kept since, is read from the
table."""


def _database_file(conn: duckdb.DuckDBPyConnection) -> str:
    return conn.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()[0]


def write(
    conn: duckdb.DuckDBPyConnection,
    run_id: str,
    desired: Sequence[DesiredObject],
    links: Sequence[coupons.CouponLink],
    merged_from: str,
) -> None:
    """Replace the desired objects and their coupon links, together (atomic: `keep` takes both as a pair)."""
    rows = pd.DataFrame(
        [
            {
                "run_id": run_id,
                "stripe_object": obj.stripe_object,
                "key": obj.key,
                "sf_object": obj.sf_object,
                "sf_id": obj.sf_id,
                "params": json.dumps(obj.params, sort_keys=True),
                "linked_stripe_id": obj.linked_stripe_id,
                "contract_keys": list(obj.contract_keys),
                "depends_on": list(obj.depends_on),
                "cleared_paths": list(obj.cleared_paths),
                "end_now": json.dumps(obj.end_now) if obj.end_now is not None else None,
                "merged_from": merged_from,
            }
            for obj in desired
        ],
        columns=_COLUMNS,
    )
    link_rows = pd.DataFrame(
        [
            {
                "run_id": run_id,
                "address": link.address,
                "current_version": link.current_version,
                "snapshot": json.dumps(link.use.snapshot, default=snapshot_json_value),
                "quote_coupon": json.dumps(link.use.quote_coupon, default=snapshot_json_value),
            }
            for link in links
        ],
        columns=["run_id", "address", "current_version", "snapshot", "quote_coupon"],
    )
    with transaction(conn):
        for table, table_rows in ((TABLE, rows), (COUPON_LINKS, link_rows)):
            conn.execute(f"DELETE FROM {table.qualified}")
            append_rows(conn, table.name, table_rows)
    _LATEST[_database_file(conn)] = (run_id, list(desired))


def merged_from(conn: duckdb.DuckDBPyConnection) -> str | None:
    """What the objects were merged from (`write`'s `merged_from`), when the table holds any."""
    found = conn.execute(f"SELECT DISTINCT merged_from FROM {TABLE.qualified}").fetchall()
    return found[0][0] if len(found) == 1 else None


def keep(conn: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """Make the objects and coupon links the latest run's, as they are."""
    with transaction(conn):
        for table in (TABLE, COUPON_LINKS):
            conn.execute(f"UPDATE {table.qualified} SET run_id = ?", [run_id])


def counts_by_type(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return dict(conn.execute(f"SELECT stripe_object, count(*) FROM {TABLE.qualified} GROUP BY 1 ORDER BY 1").fetchall())


def _from_row(row: dict[str, Any]) -> DesiredObject:
    return DesiredObject(
        stripe_object=row["stripe_object"],
        key=row["key"],
        sf_object=row["sf_object"],
        sf_id=row["sf_id"],
        params=json.loads(row["params"]),
        linked_stripe_id=row["linked_stripe_id"],
        contract_keys=tuple(row["contract_keys"] or ()),
        depends_on=tuple(row["depends_on"] or ()),
        cleared_paths=tuple(row["cleared_paths"] or ()),
        end_now=json.loads(row["end_now"]) if row.get("end_now") else None,
    )


def load(conn: duckdb.DuckDBPyConnection) -> list[DesiredObject]:
    """The latest desired objects, in the order written."""
    query = f"SELECT min(run_id), max(run_id), count(*) FROM {TABLE.qualified}"
    first_run, last_run, count = conn.execute(query).fetchone()
    database = _database_file(conn)
    run_id, latest = _LATEST.get(database, (None, []))
    if count and first_run == last_run == run_id and count == len(latest):
        return list(latest)
    loaded = [_from_row(row) for row in fetch_dicts(conn, f"SELECT * FROM {TABLE.qualified}")]
    if count and first_run == last_run:
        _LATEST[database] = (first_run, loaded)
    return list(loaded)


def release(conn: duckdb.DuckDBPyConnection) -> None:
    """Let go of the objects decoded for this run's later steps (read from the table again if asked for)."""
    _LATEST.pop(_database_file(conn), None)


def load_coupon_links(conn: duckdb.DuckDBPyConnection) -> list[coupons.CouponLink]:
    rows = fetch_dicts(conn, f"SELECT address, current_version, snapshot, quote_coupon FROM {COUPON_LINKS.qualified}")
    return [
        coupons.CouponLink(
            coupons.CouponUse(json.loads(row["snapshot"]), json.loads(row["quote_coupon"])),
            row["address"],
            row["current_version"],
        )
        for row in rows
    ]
