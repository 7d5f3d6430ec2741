"""`sync.plan` and `sync.plan_notes`: the operations of the latest plan in dependency order, and the differences it
leaves alone (reported on their contracts, not synced)."""

from __future__ import annotations

import json

import duckdb
import pandas as pd

from sf_stripe_pipeline.core import Plan, PlannedOperation, PlanningNote
from sf_stripe_pipeline.warehouse.db import SyncTable, fetch_dicts, replace_rows

TABLE = SyncTable(
    "plan",
    """run_id VARCHAR, partition_key VARCHAR, seq INTEGER, operation VARCHAR, stripe_object VARCHAR, key VARCHAR,
    sf_object VARCHAR, sf_id VARCHAR, stripe_id VARCHAR, params JSON, payload_hash VARCHAR,
    idempotency_key VARCHAR, contract_keys VARCHAR[], destructive BOOLEAN""",
)
NOTES = SyncTable(
    "plan_notes",
    """run_id VARCHAR, stripe_object VARCHAR, key VARCHAR, sf_object VARCHAR, sf_id VARCHAR, stripe_id VARCHAR,
    contract_keys VARCHAR[], message VARCHAR""",
)
OPERATION_COLUMNS = [
    "seq", "operation", "stripe_object", "key", "sf_object", "sf_id", "stripe_id", "payload_hash", "idempotency_key",
    "destructive",
]
NOTE_COLUMNS = ["stripe_object", "key", "sf_object", "sf_id", "stripe_id", "contract_keys", "message"]


def write(conn: duckdb.DuckDBPyConnection, *, run_id: str, partition: str, plan: Plan) -> None:
    operations = pd.DataFrame(
        [
            {
                "run_id": run_id,
                "partition_key": partition,
                **{name: getattr(op, name) for name in OPERATION_COLUMNS},
                "params": json.dumps(op.params, sort_keys=True),
                "contract_keys": list(op.contract_keys),
            }
            for op in plan.operations
        ],
        columns=["run_id", "partition_key", *OPERATION_COLUMNS, "params", "contract_keys"],
    )
    replace_rows(conn, TABLE.name, operations)
    notes = pd.DataFrame(
        [{"run_id": run_id, **note.__dict__, "contract_keys": list(note.contract_keys)} for note in plan.notes],
        columns=["run_id", *NOTE_COLUMNS],
    )
    replace_rows(conn, NOTES.name, notes)


def operation_counts(conn: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """(operations, destructive operations) of the latest plan, counted in the warehouse."""
    return conn.execute(f"SELECT count(*), count(*) FILTER (WHERE destructive) FROM {TABLE.qualified}").fetchone()


def load_operations(conn: duckdb.DuckDBPyConnection) -> list[PlannedOperation]:
    rows = fetch_dicts(conn, f"SELECT * FROM {TABLE.qualified} ORDER BY seq")
    return [
        PlannedOperation(
            **{name: row[name] for name in OPERATION_COLUMNS},
            params=json.loads(row["params"]),
            contract_keys=tuple(row["contract_keys"] or ()),
        )
        for row in rows
    ]


def load_notes(conn: duckdb.DuckDBPyConnection) -> list[PlanningNote]:
    rows = fetch_dicts(conn, f"SELECT {', '.join(NOTE_COLUMNS)} FROM {NOTES.qualified}")
    return [PlanningNote(**{**row, "contract_keys": tuple(row["contract_keys"] or ())}) for row in rows]
