"""`sync.sync_records`: the append-only audit trail, one row per Stripe write, per Salesforce write-back and per
rejection, each tied to its Dagster run. Stripe rows are appended as each operation completes, in the transaction
that records its id in the ledger (apply.py), so a crash or a failed write-back never loses them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import duckdb
import pandas as pd

from sf_stripe_pipeline.core import Contract, Violation
from sf_stripe_pipeline.salesforce.writes import WriteResult
from sf_stripe_pipeline.stripe.writes import OperationOutcome
from sf_stripe_pipeline.warehouse.db import SyncTable, append_rows, fetch_dicts

TABLE = SyncTable(
    "sync_records",
    """run_id VARCHAR, partition_key VARCHAR, recorded_at TIMESTAMPTZ, contract_key VARCHAR,
    sf_object VARCHAR, sf_id VARCHAR, stripe_object VARCHAR, stripe_id VARCHAR, operation VARCHAR,
    status VARCHAR, message VARCHAR, idempotency_key VARCHAR, stripe_request_id VARCHAR""",
)
COLUMNS = [
    "run_id", "partition_key", "recorded_at", "contract_key", "sf_object", "sf_id", "stripe_object", "stripe_id",
    "operation", "status", "message", "idempotency_key", "stripe_request_id",
]


FAILED_STATUSES = ("failed", "rejected", "error")
"""Statuses of rows whose operation did not happen: a Stripe request not done for now (`failed`: transient
failures outlasted the retries, or the run stopped) or refused for its data (`rejected`), a Salesforce write that
failed or a validation rejection (`error`). `skipped` rows were not attempted (something they need failed)."""

def outcome_row(run_id: str, partition: str, now: datetime, outcome: OperationOutcome) -> dict[str, Any]:
    """The row of one Stripe operation: `success`, `rejected` (Stripe refused the data), `failed` (not done) or
    `skipped` (something it needs did not succeed), with the idempotency key it was sent with."""
    operation = outcome.operation
    return {
        "run_id": run_id,
        "partition_key": partition,
        "recorded_at": now,
        "contract_key": ",".join(operation.contract_keys),
        "sf_object": operation.sf_object,
        "sf_id": operation.sf_id,
        "stripe_object": operation.stripe_object,
        "stripe_id": outcome.stripe_id,
        "operation": operation.operation,
        "status": outcome.status,
        "message": outcome.message,
        "idempotency_key": outcome.idempotency_key,
        "stripe_request_id": outcome.request_id,
    }


def write_back_rows(
    run_id: str, partition: str, now: datetime, write_backs: Sequence[WriteResult]
) -> list[dict[str, Any]]:
    """One row per Salesforce record written (Stripe ids, payment links, coupon snapshots)."""
    base = {"run_id": run_id, "partition_key": partition, "recorded_at": now}
    return [
        {
            **base,
            "contract_key": None,
            "sf_object": result.sobject,
            "sf_id": result.record_key,
            "stripe_object": None,
            "stripe_id": result.stripe_id,
            "operation": "write_back",
            "status": "success" if result.success else "error",
            "message": result.message or "Stripe_ID__c written",
            "idempotency_key": None,
            "stripe_request_id": None,
        }
        for result in write_backs
    ]


def rejection_rows(
    run_id: str, partition: str, now: datetime, quarantined: Sequence[tuple[Contract, list[Violation]]]
) -> list[dict[str, Any]]:
    """One row per rule a quarantined contract breaks."""
    base = {"run_id": run_id, "partition_key": partition, "recorded_at": now}
    return [
        {
            **base,
            "contract_key": contract.key,
            "sf_object": violation.sf_object,
            "sf_id": violation.sf_id,
            "stripe_object": None,
            "stripe_id": None,
            "operation": "reject",
            "status": "error",
            "message": f"{violation.rule}: {violation.message}",
            "idempotency_key": None,
            "stripe_request_id": None,
        }
        for contract, violations in quarantined
        for violation in violations
    ]


def append(conn: duckdb.DuckDBPyConnection, audit: Sequence[dict[str, Any]]) -> None:
    append_rows(conn, TABLE.name, pd.DataFrame(list(audit), columns=COLUMNS))


def operations_of_run(conn: duckdb.DuckDBPyConnection, run_id: str) -> list[dict]:
    """The Stripe writes and Salesforce write-backs of one run (not its rejections), in the order recorded."""
    return fetch_dicts(
        conn,
        f"""SELECT operation, stripe_object, stripe_id, sf_object, sf_id, status, message FROM {TABLE.qualified}
        WHERE run_id = ? AND operation <> 'reject' ORDER BY recorded_at""",
        [run_id],
    )
