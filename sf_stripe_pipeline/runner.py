"""Run the sync jobs from the command line, and say what a run did.

Where the run executes:
- `DAGSTER_HOME` set: the run is submitted to that instance's run queue, with its job's origin, like a run from the UI
  or a schedule (`instance_runs.py`); the CLI waits, prints progress, and dequeues it itself when no dagster-daemon
  runs. The queue's `max_concurrent_runs: 1` and the pools apply to it.
- otherwise: in this process, against an ephemeral instance.

Scope: every activation day from `--from` (or the config's start date) to today in one run, or the contracts of
`order_ids` (manual sync). What the run did is read back from its event log (materialization and check metadata),
never from the warehouse: the run may have executed in the daemon's environment, and another queued run may hold
DuckDB's lock the moment ours ends. When the run executed here against the sandboxes, the summary also counts the
write requests each sandbox received, which is how "a re-run writes nothing" is checked.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date

import dagster as dg

from sf_stripe_pipeline import home
from sf_stripe_pipeline.defs.config import sync_config
from sf_stripe_pipeline.defs.jobs import QUIET_CONSOLE, scope_run_config
from sf_stripe_pipeline.defs.metadata import table_rows
from sf_stripe_pipeline.defs.resources import SALESFORCE_ENV, STRIPE_ENV
from sf_stripe_pipeline.defs.sync.assets import (
    APPLIED_SYNC,
    PLAN_LIMITS_CHECK,
    SYNC_ERRORS_CHECK,
    SYNC_PLAN,
    VALIDATED_CONTRACTS,
)
from sf_stripe_pipeline.defs.sync.scope import today_key
from sf_stripe_pipeline.local_state import check_warehouse
from sf_stripe_pipeline.sandbox.salesforce import SalesforceSandbox
from sf_stripe_pipeline.sandbox.stripe import StripeSandbox

EXIT_OK = 0
EXIT_RUN_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_FAILED_OPERATIONS = 3
FAILURES_SHOWN = 10


@dataclass
class RunSummary:
    run_id: str
    success: bool
    """The Dagster run succeeded: False also when operations failed (`no_sync_errors` fails the run)."""
    job_name: str
    scope: str
    contracts_synced: int = 0
    contracts_assessed: int = 0
    """Contracts validated and drafted in this run; the others in scope kept their last assessment (unchanged)."""
    validation_kept_whole: bool = False
    """The org, scope, config, day and code were those of the latest validation: it stood, the org unread."""
    org_read: str = ""
    """How validation read the extracted org: "whole", "on demand" (only what its contracts read) or "not read"."""
    rejected: list[tuple[str, list[str]]] = field(default_factory=list)
    """(contract key, its violation messages): contracts validation stopped."""
    rejected_contracts: int = 0
    stripe_operations: dict[str, int] = field(default_factory=dict)
    """"create customer (success)" -> count."""
    planned_operations: dict[str, int] = field(default_factory=dict)
    applied: bool = False
    """`applied_sync` materialized: the operations below were attempted."""
    operations: int = 0
    """Stripe writes and Salesforce write-backs attempted."""
    failed_operations: int = 0
    skipped_operations: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)
    """The failed and skipped operations (operation, object, record, status, message)."""
    stripe_writes: int | None = None
    salesforce_writes: int | None = None
    """Write requests the sandboxes received during the run (None against real services, or when another process,
    such as the dagster-daemon, executed the run)."""
    failure: str | None = None
    """The run's first error, in one line."""
    plan_refusal: str | None = None

    @property
    def exit_code(self) -> int:
        if self.applied and (self.failed_operations or self.skipped_operations):
            return EXIT_FAILED_OPERATIONS
        return EXIT_OK if self.success else EXIT_RUN_FAILED


SALESFORCE_CREDENTIALS = (SALESFORCE_ENV["access_token"], SALESFORCE_ENV["username"])
STRIPE_CREDENTIALS = (STRIPE_ENV["api_key"],)


def uses_real_services() -> list[str]:
    """The credential variables set in the environment (none: both APIs are the embedded sandboxes)."""
    return [name for name in (*SALESFORCE_CREDENTIALS, *STRIPE_CREDENTIALS) if os.environ.get(name)]


def sync_request(
    *,
    order_ids: Sequence[str] = (),
    from_date: date | None = None,
    dry_run: bool = False,
    max_operations: int | None = None,
) -> tuple[str, dict, str]:
    """(job name, run config, scope label) of a CLI sync."""
    if order_ids and not dry_run:  # the job's config mapping takes only its own fields, and sets the loggers itself
        limit = {"max_operations": max_operations} if max_operations else {}
        return "manual_sync_job", {"order_ids": list(order_ids), **limit}, f"orders {', '.join(order_ids)}"
    job_name = "plan_job" if dry_run else "sync_job"
    if order_ids:
        scope = scope_run_config(order_ids=list(order_ids), max_operations=max_operations)
        return job_name, {**scope, "loggers": QUIET_CONSOLE}, f"orders {', '.join(order_ids)}"
    first = max(from_date or sync_config().start_date, sync_config().start_date).isoformat()
    last = today_key()
    scope = scope_run_config(from_date=first, to_date=last, max_operations=max_operations)
    label = first if first == last else f"{first}...{last}"
    return job_name, {**scope, "loggers": QUIET_CONSOLE}, label


class _SandboxWrites:
    """Write requests the embedded sandboxes receive while a run executes in this environment."""

    def __init__(self) -> None:
        real = uses_real_services()
        self.salesforce = None if any(n in real for n in SALESFORCE_CREDENTIALS) else SalesforceSandbox(
            home.salesforce_sandbox_dir()
        )
        self.stripe = None if any(n in real for n in STRIPE_CREDENTIALS) else StripeSandbox(home.stripe_sandbox_dir())
        self.before = self._counts()

    def _counts(self) -> tuple[int | None, int | None]:
        return tuple(  # type: ignore[return-value]
            sandbox.write_count() if sandbox else None for sandbox in (self.stripe, self.salesforce)
        )

    def close(self) -> None:
        for sandbox in (self.stripe, self.salesforce):
            if sandbox:
                sandbox.close()

    def during_run(self) -> tuple[int | None, int | None]:
        after = self._counts()
        return tuple(a - b if a is not None and b is not None else None for a, b in zip(after, self.before))  # type: ignore[return-value]


def run_sync(
    *,
    order_ids: Sequence[str] = (),
    from_date: date | None = None,
    dry_run: bool = False,
    max_operations: int | None = None,
    show: Callable[[str], None] = lambda line: None,
) -> RunSummary:
    """Run one sync (see the module docstring for where it executes) and summarise it from its event log."""
    job_name, run_config, scope = sync_request(
        order_ids=order_ids, from_date=from_date, dry_run=dry_run, max_operations=max_operations
    )
    check_warehouse()
    writes = _SandboxWrites()  # opening the sandboxes refuses damaged sandbox state before the run
    try:
        summary, executed_here = _execute(job_name, run_config, scope, show)
        if executed_here:
            summary.stripe_writes, summary.salesforce_writes = writes.during_run()
    finally:
        writes.close()
    return summary


def _execute(
    job_name: str, run_config: dict, scope: str, show: Callable[[str], None]
) -> tuple[RunSummary, bool]:
    """(summary, whether the run executed in this process's environment)."""
    if os.environ.get("DAGSTER_HOME"):
        from sf_stripe_pipeline import instance_runs

        with dg.DagsterInstance.get() as instance:
            finished = instance_runs.submit_and_follow(
                instance, job_name, run_config=run_config, tags={}, show=show
            )
            return summarise(instance, finished.run_id, job_name, scope), finished.launched_here
    from sf_stripe_pipeline.definitions import defs

    instance = dg.DagsterInstance.ephemeral()
    result = defs().resolve_job_def(job_name).execute_in_process(
        instance=instance, run_config=run_config, raise_on_error=False
    )
    return summarise(instance, result.run_id, job_name, scope), True


def summarise(instance: dg.DagsterInstance, run_id: str, job_name: str, scope: str) -> RunSummary:
    """What the run did, from its materialization and check metadata in the instance."""
    from sf_stripe_pipeline import instance_runs

    run = instance.get_run_by_id(run_id)
    summary = RunSummary(
        run_id=run_id, success=run is not None and run.status == dg.DagsterRunStatus.SUCCESS, job_name=job_name,
        scope=scope,
    )
    materialized = instance_runs.materializations(instance, run_id)
    checks = instance_runs.check_evaluations(instance, run_id)
    if validated := materialized.get(VALIDATED_CONTRACTS):
        summary.scope = str(validated["scope"].value)
        # A contract whose amendment fails still syncs the orders before it: it counts as synced and as rejected.
        summary.contracts_synced = validated["valid_contracts"].value + validated["partly_synced_contracts"].value
        summary.rejected_contracts = validated["failing_orders"].value
        summary.contracts_assessed = validated["contracts_assessed"].value
        summary.validation_kept_whole = bool(validated["validation_kept_whole"].value)
        summary.org_read = str(validated["org_read"].value)
        reasons: dict[str, list[str]] = defaultdict(list)
        for row in table_rows(validated["rejections"]):
            reasons[row["contract"]].append(f"{row['rule']}: {row['message']}")
        summary.rejected = list(reasons.items())
    if planned := materialized.get(SYNC_PLAN):
        summary.planned_operations = dict(planned["operations_by_object"].value)
    if applied := materialized.get(APPLIED_SYNC):
        summary.applied = True
        summary.stripe_operations = dict(applied["stripe_operations"].value)
        summary.operations = applied["operations"].value
        summary.failed_operations = applied["failed"].value
        summary.skipped_operations = applied["skipped"].value
    if (errors := checks.get(SYNC_ERRORS_CHECK)) is not None and "failed_operations" in errors.metadata:
        summary.failures = table_rows(errors.metadata["failed_operations"])
    if (limits := checks.get(PLAN_LIMITS_CHECK)) is not None and not limits.passed:
        summary.plan_refusal = limits.description
    if summary.exit_code == EXIT_FAILED_OPERATIONS:
        first = summary.failures[0] if summary.failures else {}
        summary.failure = _not_applied(summary) + (
            f"; first: {first['operation']} ({first['record']}): {first['message']}" if first else ""
        )
    elif not summary.success:
        summary.failure = summary.plan_refusal or instance_runs.first_error(instance, run_id) or "the run failed"
    return summary


def _not_applied(summary: RunSummary) -> str:
    """"2 of 187 operations failed, 3 more skipped (...)": what the APIs refused, and what could not run after it."""
    failed, skipped, total = summary.failed_operations, summary.skipped_operations, summary.operations
    parts = [f"{failed} of {total} operations failed"] if failed else []
    if skipped:
        counted = "more" if failed else f"of {total}"
        parts.append(f"{skipped} {counted} operations skipped (they need objects that did not sync)")
    return ", ".join(parts)


def _headline(summary: RunSummary) -> str:
    if summary.exit_code == EXIT_FAILED_OPERATIONS:
        return (
            f"FAILED: {_not_applied(summary)}; see the list below, sync.sync_records (run_id = '{summary.run_id}'), "
            "or the no_sync_errors check in the UI"
        )
    if not summary.success:
        return f"FAILED: {summary.failure}"
    return "OK: every operation applied" + (f"; {summary.rejected_contracts} contracts rejected (listed below)"
                                            if summary.rejected_contracts else "")


def format_summary(summary: RunSummary) -> str:
    lines = [
        _headline(summary),
        f"Dagster run {summary.run_id} ({summary.job_name}, {summary.scope})",
        f"Contracts synced: {summary.contracts_synced}; rejected: {summary.rejected_contracts}",
    ]
    for contract_key, reasons in summary.rejected:
        lines.append(f"  rejected {contract_key}:")
        lines += [f"    - {reason}" for reason in reasons]
    if len(summary.rejected) < summary.rejected_contracts:
        lines.append(f"  ... {summary.rejected_contracts - len(summary.rejected)} more in sync.contract_validation")
    if summary.job_name == "plan_job":
        lines.append("Planned Stripe operations (dry run, nothing written):")
        lines += [f"  would {name}: {count}" for name, count in sorted(summary.planned_operations.items())]
    else:
        lines.append("Stripe operations:")
        lines += [f"  {name}: {count}" for name, count in sorted(summary.stripe_operations.items())] or ["  none"]
    if summary.failures:
        lines.append("Failed operations:")
        lines += [
            f"  {row['status']} {row['operation']} ({row['record']}): {row['message']}"
            for row in summary.failures[:FAILURES_SHOWN]
        ]
        if len(summary.failures) > FAILURES_SHOWN:
            lines.append(f"  ... {len(summary.failures) - FAILURES_SHOWN} more in sync.sync_records")
    if summary.stripe_writes is not None:
        lines.append(f"Stripe sandbox write requests during the run: {summary.stripe_writes}")
    if summary.salesforce_writes is not None:
        lines.append(f"Salesforce sandbox write requests during the run: {summary.salesforce_writes}")
    lines += [
        "Where to look next:",
        f"  sync records:   table sync.sync_records in {home.warehouse_path()}, run_id = '{summary.run_id}'",
        "  the Dagster UI: export DAGSTER_HOME=$PWD && dg dev   (CLI runs show there when DAGSTER_HOME is set)",
        "  Stripe objects: sf-stripe-pipeline sandbox serve, then the stripe SDK or curl",
    ]
    return "\n".join(lines)
