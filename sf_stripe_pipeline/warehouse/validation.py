"""`sync.contract_validation` (a view): the contracts in scope of the latest validation, one row each, with what
validation decided (`status`: valid, partial, quarantined or deleted; the synced orders; the failing order and every
rule it breaks; the orders skipped and why) and the desired Stripe objects and coupon links of the synced orders, so
the next asset merges them without translating any contract again.

Behind it, `sync.contract_assessments` keeps the latest assessment of every contract any run assessed, with what it
read (`input_reads`, `input_digest`: core/assessment_inputs.py), whatever the run's scope; `sync.validation_scope`
names the contracts of the latest validation (and its run). A run keeps the stored assessment of each contract in
its scope whose inputs are unchanged instead of assessing it again."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict

import duckdb
import pandas as pd

from sf_stripe_pipeline.core import Contract, ContractAssessment, ContractVerdict, DesiredObject, Violation, coupons
from sf_stripe_pipeline.core.assessment_inputs import Reads, StoredInputs
from sf_stripe_pipeline.core.rules import DELETED, PARTIAL, QUARANTINED, VALID
from sf_stripe_pipeline.warehouse.db import (
    SYNC_SCHEMA,
    SyncTable,
    append_rows,
    fetch_dicts,
    snapshot_json_value,
    sync_table,
    transaction,
)

_ROW = """run_id VARCHAR, partition_key VARCHAR, contract_key VARCHAR, order_ids VARCHAR[], account_id VARCHAR,
    status VARCHAR, violations JSON, synced_order_ids VARCHAR[], failing_order_id VARCHAR, skipped JSON,
    objects JSON, coupon_links JSON, input_reads VARCHAR, input_digest VARCHAR"""
ASSESSMENTS = SyncTable("contract_assessments", _ROW)
"""`run_id`, `partition_key`: the run that assessed the contract, and its scope then."""
SCOPE = SyncTable(
    "validation_scope",
    "run_id VARCHAR, partition_key VARCHAR, contract_key VARCHAR, basis VARCHAR",
    added_columns=(("basis", "VARCHAR"),),
)
"""`basis`: what the validation was made from (core.assessment_inputs.validation_basis), or NULL (a manual sync's,
or assessments changed since): a run with the same basis keeps the validation whole (`holds_basis`)."""
VIEW = sync_table("contract_validation")
STATUSES = (VALID, PARTIAL, QUARANTINED, DELETED)
SYNCING = (VALID, PARTIAL)
"""Statuses whose contracts have orders that go to Stripe."""
_COLUMNS = [
    "run_id", "partition_key", "contract_key", "order_ids", "account_id", "status", "violations", "synced_order_ids",
    "failing_order_id", "skipped", "objects", "coupon_links", "input_reads", "input_digest",
]
_VERDICT_COLUMNS = (
    "contract_key, order_ids, account_id, status, violations, synced_order_ids, failing_order_id, skipped"
)


def create_view(conn: duckdb.DuckDBPyConnection) -> None:
    """The validation view; a warehouse of an earlier version has a table of that name, the latest run's rows: it
    goes (its contracts are assessed again by the next run)."""
    kind = conn.execute(
        "SELECT table_type FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [SYNC_SCHEMA, "contract_validation"],
    ).fetchone()
    if kind is not None and kind[0] == "VIEW":
        return
    if kind is not None:
        conn.execute(f"DROP TABLE {VIEW}")
    details = ", ".join(f"assessed.{column}" for column in _COLUMNS if column not in ("run_id", "partition_key"))
    conn.execute(
        f"CREATE VIEW {VIEW} AS SELECT scope.run_id, scope.partition_key, {details} "
        f"FROM {SCOPE.qualified} AS scope JOIN {ASSESSMENTS.qualified} AS assessed USING (contract_key)"
    )


def _link_json(link: coupons.CouponLink) -> dict:
    return {"address": link.address, "current_version": link.current_version, **asdict(link.use)}


def _rows(
    contracts: Sequence[Contract],
    assessments: Mapping[str, ContractAssessment],
    inputs: Mapping[str, StoredInputs],
    run_id: str,
    partition: str,
) -> pd.DataFrame:
    return pd.DataFrame(
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
                "input_reads": (stored := inputs[contract.key]).reads.to_json(),
                "input_digest": stored.digest,
            }
            for contract in contracts
        ],
        columns=_COLUMNS,
    )


def write(
    conn: duckdb.DuckDBPyConnection,
    *,
    run_id: str,
    partition: str,
    contracts: Sequence[Contract],
    batches: Iterable[tuple[Mapping[str, ContractAssessment], Mapping[str, StoredInputs]]],
    basis: str | None = None,
) -> int:
    """Store the contracts assessed in `batches` ((assessments, the inputs each read), written as each comes) as
    their latest assessment, and replace the validation with the latest assessment of each contract in scope,
    `contracts` (the others' as stored), made from `basis`. Atomic. Returns how many contracts were assessed."""
    by_key = {contract.key: contract for contract in contracts}
    assessed = 0
    with transaction(conn):
        for assessments, inputs in batches:
            rows = _rows([by_key[key] for key in assessments], assessments, inputs, run_id, partition)
            stale = f"DELETE FROM {ASSESSMENTS.qualified} WHERE list_contains(?, contract_key)"
            conn.execute(stale, [list(assessments)])
            append_rows(conn, ASSESSMENTS.name, rows)
            assessed += len(assessments)
        scope = pd.DataFrame(
            {"run_id": run_id, "partition_key": partition, "contract_key": sorted(by_key), "basis": basis},
            columns=["run_id", "partition_key", "contract_key", "basis"],
            dtype=object,
        )
        conn.execute(f"DELETE FROM {SCOPE.qualified}")
        append_rows(conn, SCOPE.name, scope)
    return assessed


def holds_basis(conn: duckdb.DuckDBPyConnection, basis: str) -> int | None:
    """How many contracts the latest validation holds, if it was made from `basis` and holds an assessment of each
    contract in its scope (then a validation from the same basis would decide the same); else None."""
    [(in_scope, with_basis)] = conn.execute(
        f"SELECT count(*), count(*) FILTER (basis = ?) FROM {SCOPE.qualified}", [basis]
    ).fetchall()
    # Each with its stored inputs: an assessment without them is one to make again.
    [(assessed,)] = conn.execute(f"SELECT count(*) FROM {VIEW} WHERE input_digest IS NOT NULL").fetchall()
    return in_scope if in_scope and with_basis == in_scope == assessed else None


def keep(conn: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """The latest validation stands as this run's."""
    conn.execute(f"UPDATE {SCOPE.qualified} SET run_id = ?", [run_id])


def stored_inputs(conn: duckdb.DuckDBPyConnection, keys: Sequence[str]) -> dict[str, StoredInputs]:
    """Contract key -> what its latest assessment read, for those of `keys` that have one."""
    rows = conn.execute(
        f"SELECT contract_key, input_reads, input_digest FROM {ASSESSMENTS.qualified} "
        "WHERE input_digest IS NOT NULL AND list_contains(?, contract_key)",
        [list(keys)],
    ).fetchall()
    return {key: StoredInputs(Reads.from_json(reads), digest) for key, reads, digest in rows}


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


def verdicts(conn: duckdb.DuckDBPyConnection, *, failing_only: bool = False) -> list[ContractVerdict]:
    """What the latest validation decided about each contract in scope (`failing_only`: those with a failing
    order), by contract key."""
    where = " WHERE failing_order_id IS NOT NULL" if failing_only else ""
    query = f"SELECT {_VERDICT_COLUMNS} FROM {VIEW}{where} ORDER BY contract_key"
    return [_verdict(row) for row in fetch_dicts(conn, query)]


def status_counts(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Status -> how many contracts of the latest validation have it."""
    return dict(conn.execute(f"SELECT status, count(*) FROM {VIEW} GROUP BY status").fetchall())


def syncing_objects(conn: duckdb.DuckDBPyConnection) -> tuple[list[list[DesiredObject]], list[coupons.CouponLink]]:
    """The desired objects of each contract with synced orders (in contract order), and their coupon links."""
    rows = fetch_dicts(
        conn,
        f"SELECT objects, coupon_links FROM {VIEW} WHERE status IN ? ORDER BY contract_key",
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


def syncing_digest(conn: duckdb.DuckDBPyConnection) -> str:
    """A digest of the objects and coupon links of the contracts with synced orders: what desired state merges."""
    query = (
        "SELECT coalesce(md5(string_agg(contract_key || md5(CAST(objects AS VARCHAR)) || "
        f"md5(CAST(coupon_links AS VARCHAR)), ',' ORDER BY contract_key)), '') FROM {VIEW} "
        "WHERE status IN ?"
    )
    return conn.execute(query, [list(SYNCING)]).fetchone()[0]


def quarantined_count(conn: duckdb.DuckDBPyConnection) -> int:
    """Contracts with a failing order (partly synced or not at all)."""
    return conn.execute(f"SELECT count(*) FROM {VIEW} WHERE failing_order_id IS NOT NULL").fetchone()[0]

