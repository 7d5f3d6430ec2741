"""Run the sync jobs through Dagster from the command line, and summarise what a run did.

Runs execute in this process against the Dagster instance of `$DAGSTER_HOME` when it is set (so they show in
`dg dev`), else an ephemeral one. Scope:
- default: every partition from `--from` (or the config's start date) to today, in one run (single-run backfill);
- `order_ids`: the contracts of those orders (manual sync), whatever their activation date.
When the sandboxes are in use, the summary counts the writes each API received during the run from their request
logs, which is how "a re-run writes nothing" is checked.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import dagster as dg
import duckdb

from sf_stripe_pipeline import home
from sf_stripe_pipeline.defs.config import sync_config
from sf_stripe_pipeline.defs.resources import SALESFORCE_ENV, STRIPE_ENV
from sf_stripe_pipeline.defs.jobs import QUIET_CONSOLE, scope_run_config
from sf_stripe_pipeline.defs.sync.scope import today_key
from sf_stripe_pipeline.sandbox.salesforce import SalesforceSandbox
from sf_stripe_pipeline.sandbox.stripe import StripeSandbox
from sf_stripe_pipeline.warehouse import audit, plan, validation


@dataclass
class RunSummary:
    run_id: str
    success: bool
    job_name: str
    scope: str
    contracts_synced: int = 0
    rejected: list[tuple[str, list[str]]] = field(default_factory=list)
    """(contract key, its violation messages)."""
    stripe_operations: dict[str, int] = field(default_factory=dict)
    """"create customer" -> count, from this run's sync records."""
    planned_operations: dict[str, int] = field(default_factory=dict)
    stripe_writes: int | None = None
    salesforce_writes: int | None = None
    """Write requests the sandboxes received during the run (None against real services)."""
    failure: str | None = None


SALESFORCE_CREDENTIALS = (SALESFORCE_ENV["access_token"], SALESFORCE_ENV["username"])
STRIPE_CREDENTIALS = (STRIPE_ENV["api_key"],)


def uses_real_services() -> list[str]:
    """The credential variables set in the environment (none: both APIs are the embedded sandboxes)."""
    return [name for name in (*SALESFORCE_CREDENTIALS, *STRIPE_CREDENTIALS) if os.environ.get(name)]


def _uses_sandboxes() -> tuple[bool, bool]:
    real = uses_real_services()
    return (
        not any(name in real for name in SALESFORCE_CREDENTIALS),
        not any(name in real for name in STRIPE_CREDENTIALS),
    )


def _writes(log) -> int:
    return sum(1 for entry in log if entry.is_write)


def _instance() -> dg.DagsterInstance:
    return dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()


def sync_request(
    *, order_ids: Sequence[str] = (), from_date: date | None = None, dry_run: bool = False
) -> tuple[str, dict, str]:
    """(job name, run config, scope label) of a CLI sync. The terminal gets warnings; the event log keeps all."""
    if order_ids and not dry_run:  # the job's config mapping takes only `order_ids` and sets the loggers itself
        return "manual_sync_job", {"order_ids": list(order_ids)}, f"orders {', '.join(order_ids)}"
    job_name = "plan_job" if dry_run else "sync_job"
    if order_ids:
        return job_name, {**scope_run_config(order_ids=list(order_ids)), "loggers": QUIET_CONSOLE}, (
            f"orders {', '.join(order_ids)}"
        )
    first = max(from_date or sync_config().start_date, sync_config().start_date).isoformat()
    last = today_key()
    run_config = {**scope_run_config(from_date=first, to_date=last), "loggers": QUIET_CONSOLE}
    return job_name, run_config, f"{first}...{last}"


def run_sync(
    *,
    order_ids: Sequence[str] = (),
    from_date: date | None = None,
    dry_run: bool = False,
) -> RunSummary:
    from sf_stripe_pipeline.definitions import defs

    definitions = defs()
    job_name, run_config, scope = sync_request(order_ids=order_ids, from_date=from_date, dry_run=dry_run)
    tags: dict[str, str] = {}

    salesforce_sandbox, stripe_sandbox = _uses_sandboxes()
    sf_sandbox = SalesforceSandbox(home.salesforce_sandbox_dir()) if salesforce_sandbox else None
    st_sandbox = StripeSandbox(home.stripe_sandbox_dir()) if stripe_sandbox else None
    sf_before = _writes(sf_sandbox.request_log()) if sf_sandbox else 0
    st_before = _writes(st_sandbox.request_log()) if st_sandbox else 0

    job = definitions.resolve_job_def(job_name)
    result = job.execute_in_process(instance=_instance(), tags=tags, run_config=run_config, raise_on_error=False)
    summary = RunSummary(run_id=result.run_id, success=result.success, job_name=job_name, scope=scope)
    if not result.success:
        failures = [event.message for event in result.all_events if event.is_failure]
        summary.failure = failures[-1] if failures else "the run failed"
    if sf_sandbox:
        summary.salesforce_writes = _writes(sf_sandbox.request_log()) - sf_before
    if st_sandbox:
        summary.stripe_writes = _writes(st_sandbox.request_log()) - st_before
    _fill_from_warehouse(summary)
    return summary


def _fill_from_warehouse(summary: RunSummary) -> None:
    path = home.warehouse_path()
    if not path.exists():
        return
    conn = duckdb.connect(str(path))
    try:
        validation_rows = validation.of_run(conn, summary.run_id)
        summary.contracts_synced = sum(1 for row in validation_rows if row["status"] == validation.VALID)
        summary.rejected = [
            (row["contract_key"], [f"{v['rule']}: {v['message']}" for v in row["violations"]])
            for row in validation_rows
            if row["status"] == validation.QUARANTINED
        ]
        summary.stripe_operations = dict(
            Counter(
                f"{row['operation']} {row['stripe_object']} ({row['status']})"
                for row in audit.stripe_rows_of_run(conn, summary.run_id)
            )
        )
        summary.planned_operations = dict(
            Counter(f"{row['operation']} {row['stripe_object']}" for row in plan.operations_of_run(conn, summary.run_id))
        )
    finally:
        conn.close()


def format_summary(summary: RunSummary) -> str:
    lines = [
        f"Dagster run {summary.run_id} ({summary.job_name}, {summary.scope}): "
        + ("succeeded" if summary.success else f"FAILED: {summary.failure}"),
        f"Contracts synced: {summary.contracts_synced}; rejected: {len(summary.rejected)}",
    ]
    for contract_key, reasons in summary.rejected:
        lines.append(f"  rejected {contract_key}:")
        lines += [f"    - {reason}" for reason in reasons]
    if summary.job_name == "plan_job":
        lines.append("Planned Stripe operations (dry run, nothing written):")
        lines += [f"  would {name}: {count}" for name, count in sorted(summary.planned_operations.items())]
    else:
        lines.append("Stripe operations:")
        lines += [f"  {name}: {count}" for name, count in sorted(summary.stripe_operations.items())] or ["  none"]
    if summary.stripe_writes is not None:
        lines.append(f"Stripe sandbox write requests during the run: {summary.stripe_writes}")
    if summary.salesforce_writes is not None:
        lines.append(f"Salesforce sandbox write requests during the run: {summary.salesforce_writes}")
    lines += [
        "Where to look next:",
        f"  sync records:   table sync.sync_records in {home.warehouse_path()}, run_id = '{summary.run_id}'",
        "  the Dagster UI: DAGSTER_HOME=$PWD/.dagster_home dg dev   (runs appear there when DAGSTER_HOME is set)",
        "  Stripe objects: sf-stripe-pipeline sandbox serve, then the stripe SDK or curl",
    ]
    return "\n".join(lines)
