"""One executor for the whole code location: the jobs, the UI's "Materialize" and asset backfills all run their steps
in one process, one after another. DuckDB takes one writing process per file, so parallel steps would fight over
its lock, and a process per step costs seconds each."""

import dagster as dg


@dg.definitions
def executor() -> dg.Definitions:
    return dg.Definitions(executor=dg.in_process_executor)
