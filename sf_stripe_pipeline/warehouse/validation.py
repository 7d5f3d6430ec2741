"""`sync.contract_validation`: the contracts in scope of the latest validation, one row each, with what validation
decided (`status`: valid, partial, quarantined or deleted; the synced orders; the failing order and every rule it
breaks; the orders skipped and why) and the desired Stripe objects and coupon links of the synced orders, so the
next asset merges them without translating any contract again."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict

import duckdb
import pandas as pd

from sf_stripe_pipeline.core import Contract, ContractAssessment, ContractVerdict, DesiredObject, Violation, coupons
from sf_stripe_pipeline.core.rules import DELETED, PARTIAL, QUARANTINED, VALID
from sf_stripe_pipeline.warehouse.db import SyncTable, fetch_dicts, replace_rows, snapshot_json_value

TABLE = SyncTable(
    "contract_validation",
    """run_id VARCHAR, partition_key VARCHAR, contract_key VARCHAR, order_ids VARCHAR[], account_id VARCHAR,
    status VARCHAR, violations JSON, synced_order_ids VARCHAR[], failing_order_id VARCHAR, skipped JSON,
    objects JSON, coupon_links JSON""",
    added_columns=(
        ("synced_order_ids", "VARCHAR[]"),
        ("failing_order_id", "VARCHAR"),
        ("skipped", "JSON"),
        ("objects", "JSON"),
        ("coupon_links", "JSON"),
    ),
)
STATUSES = (VALID, PARTIAL, QUARANTINED, DELETED)
SYNCING = (VALID, PARTIAL)
"""Statuses whose contracts have orders that go to Stripe."""
_COLUMNS = [
    "run_id", "partition_key", "contract_key", "order_ids", "account_id", "status", "violations", "synced_order_ids",
    "failing_order_id", "skipped", "objects", "coupon_links",
]
_VERDICT_COLUMNS = (
    "contract_key, order_ids, account_id, status, violations, synced_order_ids, failing_order_id, skipped"
)


def _link_json(link: coupons.CouponLink) -> dict:
    return {"address": link.address, "current_version": link.current_version, **asdict(link.use)}


def write(
    conn: duckdb.DuckDBPyConnection,
    *,
    run_id: str,
    partition: str,
    contracts: Sequence[Contract],
    assessments: Mapping[str, ContractAssessment],
) -> None:
    rows = pd.DataFrame(
        [
            {
                "run_id": run_id,
                "partition_key": partition,
                "contract_key": contract.key,
                "order_ids": list(contract.order_ids),
                "account_id": contract.account_id,
                "status": (found := assessments[contract.key]).status,
                "violations": json.dumps([vars(violation) for violation in found.violations]),
                "synced_order_ids": list(found.synced_order_ids),
                "failing_order_id": found.failing_order_id,
                "skipped": json.dumps(found.skipped),
                # vars: the fields as they are (asdict would deep-copy every parameter first)
                "objects": json.dumps([vars(obj) for obj in found.objects], default=str),
                "coupon_links": json.dumps([_link_json(link) for link in found.coupon_links], default=snapshot_json_value),
            }
            for contract in contracts
        ],
        columns=_COLUMNS,
    )
    replace_rows(conn, TABLE.name, rows)


def _verdict(row: Mapping) -> ContractVerdict:
    order_ids = row["order_ids"]
    return ContractVerdict(
        Contract(row["contract_key"], order_ids[0], tuple(order_ids[1:]), row["account_id"]),
        row["status"],
        tuple(row["synced_order_ids"] or ()),
        row["failing_order_id"],
        [Violation(**found) for found in json.loads(row["violations"])],
        tuple(tuple(pair) for pair in json.loads(row["skipped"] or "[]")),
    )


def verdicts(conn: duckdb.DuckDBPyConnection) -> list[ContractVerdict]:
    """What the latest validation decided about each contract in scope."""
    return [_verdict(row) for row in fetch_dicts(conn, f"SELECT {_VERDICT_COLUMNS} FROM {TABLE.qualified}")]


def syncing_objects(conn: duckdb.DuckDBPyConnection) -> tuple[list[list[DesiredObject]], list[coupons.CouponLink]]:
    """The desired objects of each contract with synced orders (in contract order), and their coupon links."""
    rows = fetch_dicts(
        conn,
        f"SELECT objects, coupon_links FROM {TABLE.qualified} WHERE status IN ? ORDER BY contract_key",
        [list(SYNCING)],
    )
    objects = [
        [
            DesiredObject(
                **{
                    **found,
                    **{name: tuple(found[name]) for name in ("contract_keys", "depends_on", "cleared_paths")},
                }
            )
            for found in json.loads(row["objects"])
        ]
        for row in rows
    ]
    links = [
        coupons.CouponLink(
            coupons.CouponUse(found["snapshot"], found["quote_coupon"]), found["address"], found["current_version"]
        )
        for row in rows
        for found in json.loads(row["coupon_links"])
    ]
    return objects, links



def quarantined(conn: duckdb.DuckDBPyConnection) -> list[tuple[Contract, list[Violation]]]:
    """Contracts with a failing order, and every rule it breaks (the audit's rejections)."""
    return [(verdict.contract, verdict.violations) for verdict in verdicts(conn) if verdict.violations]


def quarantined_count(conn: duckdb.DuckDBPyConnection) -> int:
    """Contracts with a failing order (partly synced or not at all)."""
    return conn.execute(f"SELECT count(*) FROM {TABLE.qualified} WHERE failing_order_id IS NOT NULL").fetchone()[0]

