"""The warehouse resource: DuckDB, plus the rule that only one run writes it at a time.

DuckDB takes one writing process per file, and the sync's tables hold one run's scope, so two sync runs must never
interleave, whatever started them (the CLI, the UI, a schedule, a backfill, `dg launch`, a test). The run queue of
`dagster.yaml` covers only runs submitted to it; this guard covers every run of the instance: a run that needs the
warehouse while an earlier-started run of this code location is still in progress fails at once, naming that run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

IN_PROGRESS = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]
WAREHOUSE_JOBS = frozenset({"sync_job", "plan_job", "manual_sync_job", "stripe_drift_job", "__ASSET_JOB"})
"""Every job of this code location touches the warehouse (`__ASSET_JOB`: the UI's Materialize and asset backfills)."""


def earlier_runs_in_progress(instance: dg.DagsterInstance, run_id: str) -> list[dg.DagsterRun]:
    """Runs of the warehouse's jobs in progress in `instance` that started before `run_id` (ties: lower run id)."""
    records = instance.get_run_records(dg.RunsFilter(statuses=IN_PROGRESS))
    ours = next((record for record in records if record.dagster_run.run_id == run_id), None)
    our_start = (ours.start_time or float("inf"), run_id) if ours else (float("inf"), run_id)
    return [
        record.dagster_run
        for record in records
        if record.dagster_run.run_id != run_id
        and record.dagster_run.job_name in WAREHOUSE_JOBS
        and record.start_time is not None
        and (record.start_time, record.dagster_run.run_id) < our_start
    ]


class WarehouseResource(DuckDBResource):
    """`DuckDBResource` that refuses to open while another run of the warehouse's jobs is in progress, and whose
    connection is closed when the step using it fails as well: the parent closes it only after a success, and a
    connection left open makes every later `duckdb.connect` of the file with another configuration fail in this
    process (issue 12.5: the run summary then failed instead of naming the run's error)."""

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with super().get_connection() as conn:
            try:
                yield conn
            finally:
                conn.close()

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        if context.instance is None or context.run is None:
            return
        others = earlier_runs_in_progress(context.instance, context.run.run_id)
        if others:
            other = others[0]
            raise dg.Failure(
                description=f"Another run is writing the warehouse: run {other.run_id} ({other.job_name}, "
                f"{other.status.value}). Wait for it to finish, then retry.",
                allow_retries=False,
            )
