"""One executor for the whole code location: the jobs, the UI's "Materialize" and asset backfills all run their steps
in one process, one after another. DuckDB takes one writing process per file, so parallel steps would fight over
its lock, and a process per step costs seconds each."""

import gc

import dagster as dg

# The steps make and drop millions of small objects (records, drafts, rows) while holding a large org: CPython's
# default threshold (a collection every 700 allocations) spent a fifth of a 10,000-order run in the collector.
gc.set_threshold(50_000, 20, 10)


@dg.definitions
def executor() -> dg.Definitions:
    return dg.Definitions(executor=dg.in_process_executor)
