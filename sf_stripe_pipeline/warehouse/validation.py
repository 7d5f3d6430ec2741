"""`sync.contract_validation`: the contracts in scope of the latest validation, each valid or quarantined with every
rule it breaks."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import duckdb
import pandas as pd

from sf_stripe_pipeline.core import Contract, Violation
from sf_stripe_pipeline.warehouse.db import SyncTable, fetch_dicts, replace_rows

TABLE = SyncTable(
    "contract_validation",
    """run_id VARCHAR, partition_key VARCHAR, contract_key VARCHAR, order_ids VARCHAR[], account_id VARCHAR,
    status VARCHAR, violations JSON""",
)
VALID, QUARANTINED = "valid", "quarantined"
_COLUMNS = ["run_id", "partition_key", "contract_key", "order_ids", "account_id", "status", "violations"]


def write(
    conn: duckdb.DuckDBPyConnection,
    *,
    run_id: str,
    partition: str,
    contracts: Sequence[Contract],
    violations: Mapping[str, Sequence[Violation]],
) -> None:
    rows = pd.DataFrame(
        [
            {
                "run_id": run_id,
                "partition_key": partition,
                "contract_key": contract.key,
                "order_ids": list(contract.order_ids),
                "account_id": contract.account_id,
                "status": QUARANTINED if violations.get(contract.key) else VALID,
                "violations": json.dumps([v.__dict__ for v in violations.get(contract.key, [])]),
            }
            for contract in contracts
        ],
        columns=_COLUMNS,
    )
    replace_rows(conn, TABLE.name, rows)


def valid_keys(conn: duckdb.DuckDBPyConnection) -> set[str]:
    rows = conn.execute(f"SELECT contract_key FROM {TABLE.qualified} WHERE status = ?", [VALID]).fetchall()
    return {row[0] for row in rows}


def quarantined(conn: duckdb.DuckDBPyConnection) -> list[tuple[Contract, list[Violation]]]:
    rows = fetch_dicts(
        conn,
        f"SELECT contract_key, order_ids, account_id, violations FROM {TABLE.qualified} WHERE status = ?",
        [QUARANTINED],
    )
    return [
        (
            Contract(
                key=row["contract_key"],
                initial_order_id=row["order_ids"][0],
                amendment_order_ids=tuple(row["order_ids"][1:]),
                account_id=row["account_id"],
            ),
            [Violation(**found) for found in json.loads(row["violations"])],
        )
        for row in rows
    ]


def quarantined_count(conn: duckdb.DuckDBPyConnection) -> int:
    return conn.execute(f"SELECT count(*) FROM {TABLE.qualified} WHERE status = ?", [QUARANTINED]).fetchone()[0]
