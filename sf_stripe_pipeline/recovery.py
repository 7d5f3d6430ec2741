"""`sf-stripe-pipeline warehouse rebuild`: a new warehouse from what Salesforce and Stripe hold, writing to neither.

The warehouse is a cache. What the sync made lives in Stripe (every object carries its `salesforce_sync_key`
metadata) and in Salesforce (the `Stripe_ID__c` write-backs), so a lost or damaged `warehouse.duckdb` is rebuilt by:

1. refusing while a sync run may be writing the file (a run in progress in `$DAGSTER_HOME`'s instance, or a
   process holding DuckDB's lock on it);
2. keeping the old file aside as `warehouse.duckdb.damaged-<UTC time>` (or `.previous-<UTC time>` when it was
   readable): never deleted, its `sync.sync_records` audit trail stays readable there;
3. the dry run (`plan_job`) against a fresh warehouse, in this process: it re-extracts Salesforce and reads Stripe
   the way every sync does (`actual_stripe_state`: by written-back id, else by sync key, `stripe/reads.py`);
4. the Stripe ids that read found recorded in the ledger (`apply.record_in_ledger`, as a sync's apply step does),
   so the next `sync` reads them by id and creates nothing twice (one-time invoice items included).

The rebuild runs here rather than through the instance's run queue: the file it repairs is this environment's
`$SF_STRIPE_HOME`, and a run a dagster-daemon dequeued would execute in the daemon's.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from sf_stripe_pipeline import home, warehouse
from sf_stripe_pipeline.apply import record_in_ledger
from sf_stripe_pipeline.core import DesiredObject
from sf_stripe_pipeline.core.desired import STRIPE_OBJECT_ORDER
from sf_stripe_pipeline.local_state import (
    LocalStateError,
    check_warehouse,
    discard_warehouse,
    move_warehouse,
)
from sf_stripe_pipeline.warehouse import actual, desired

BY_WRITTEN_BACK_ID = "Stripe_ID__c"
BY_SYNC_KEY = "salesforce_sync_key"
LOCK_HOLDER = re.compile(r"\(PID (\d+)\)")


class RebuildError(RuntimeError):
    """The rebuild cannot start or did not finish; the message is one line saying why and where the old file is."""


@dataclass
class RebuildReport:
    warehouse: Path
    kept_aside: Path | None
    """Where the previous warehouse now is (None: there was none)."""
    was_damaged: bool
    run_id: str
    adopted: dict[str, Counter[str]] = field(default_factory=dict)
    """Stripe object type -> {BY_WRITTEN_BACK_ID: n, BY_SYNC_KEY: n}: ids now in the ledger, and how they were found."""
    not_in_stripe: Counter[str] = field(default_factory=Counter)
    """Desired objects Stripe does not hold (never synced, or deleted there): the next sync creates or reports them."""
    rejected_contracts: int = 0
    planned_operations: dict[str, int] = field(default_factory=dict)
    """What the next sync would do ("create customer" -> n): nothing, on an org that was synced."""

    @property
    def adopted_total(self) -> int:
        return sum(sum(how.values()) for how in self.adopted.values())


def adoption_counts(
    wanted: Iterable[DesiredObject], found_ids: Mapping[str, str], bodies: Mapping[str, Mapping[str, Any] | None]
) -> tuple[dict[str, Counter[str]], Counter[str]]:
    """(adopted per type and how, missing per type): an object found under the id written back on its Salesforce
    record (or, for an evergreen subscription, under its schedule's id, F40) was adopted by that id; any other found
    id came from its sync key metadata."""
    adopted: dict[str, Counter[str]] = {}
    missing: Counter[str] = Counter()
    for obj in wanted:
        stripe_id = found_ids.get(obj.address)
        if stripe_id is None:
            missing[obj.stripe_object] += 1
            continue
        by_id = (stripe_id, (bodies.get(obj.address) or {}).get("schedule"))
        how = BY_WRITTEN_BACK_ID if obj.linked_stripe_id and obj.linked_stripe_id in by_id else BY_SYNC_KEY
        adopted.setdefault(obj.stripe_object, Counter())[how] += 1
    order = {name: n for n, name in enumerate(STRIPE_OBJECT_ORDER)}
    return dict(sorted(adopted.items(), key=lambda item: order.get(item[0], len(order)))), missing


def refuse_while_held(path: Path, show: Callable[[str], None]) -> None:
    """A sync run that may be writing the warehouse stops the rebuild, named in one line: a run in progress in
    `$DAGSTER_HOME`'s instance (crashed runs are reaped first, as `sync` does), or a process holding the file."""
    if os.environ.get("DAGSTER_HOME"):
        import dagster as dg

        from sf_stripe_pipeline import instance_runs
        from sf_stripe_pipeline.defs.warehouse_resource import WAREHOUSE_JOBS

        with dg.DagsterInstance.get() as instance:
            instance_runs.reap_crashed_runs(instance, show)
            running = [run for run in instance_runs.runs_in_progress(instance) if run.job_name in WAREHOUSE_JOBS]
        if running:
            raise RebuildError(
                f"{instance_runs.describe(running[0])} is writing the warehouse: wait for it to finish (or cancel it "
                "in the Dagster UI), then run `sf-stripe-pipeline warehouse rebuild` again. Nothing was changed"
            )
    if not path.exists():
        return
    try:  # read-only: a damaged file is left exactly as it is; a writer's exclusive lock still conflicts
        duckdb.connect(str(path), read_only=True).close()
    except duckdb.Error as problem:
        holder = LOCK_HOLDER.search(str(problem))
        if "lock" in str(problem).lower():
            raise RebuildError(
                f"{path}: another process{f' (PID {holder.group(1)})' if holder else ''} has the warehouse open, "
                "probably a sync: wait for it to finish, then run `sf-stripe-pipeline warehouse rebuild` again. "
                "Nothing was changed"
            ) from None
        # Any other error: the file is damaged, which is what the rebuild is for.


def _aside_name(path: Path, label: str, now: datetime) -> Path:
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    candidate, n = path.with_name(f"{path.name}.{label}-{stamp}"), 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}.{label}-{stamp}-{n}")
    return candidate


def keep_aside(path: Path, label: str) -> Path | None:
    """Move the warehouse (and its WAL) to `<file>.<label>-<UTC time>`; None when there is no warehouse."""
    if not path.exists():
        return None
    aside = _aside_name(path, label, datetime.now(UTC))  # wall-clock time: the operator's, not the sandbox's
    move_warehouse(path, aside)
    return aside


def rebuild_warehouse(show: Callable[[str], None] = lambda line: None) -> RebuildReport:
    """Steps 1-4 of the module docstring. On failure the half-built warehouse is discarded and a readable previous
    one put back; a damaged one stays aside (a sync without it starts from a fresh warehouse)."""
    path = home.warehouse_path()
    refuse_while_held(path, show)
    try:
        check_warehouse(path)
        damaged = False
    except LocalStateError:
        damaged = True
    aside = keep_aside(path, "damaged" if damaged else "previous")
    if aside:
        show(f"Kept the {'damaged' if damaged else 'previous'} warehouse aside: {aside}")
    show("Re-extracting Salesforce and reading Stripe (a dry run: nothing is written to either)")
    try:
        report = _rebuild(path, aside, damaged)
    except BaseException as problem:
        discard_warehouse(path)
        restored = ""
        if aside and not damaged:
            move_warehouse(aside, path)
            restored = f"; the previous warehouse is back at {path}"
        elif aside:
            restored = f"; the damaged warehouse stays at {aside}"
        if isinstance(problem, RebuildError):
            raise RebuildError(f"{problem}{restored}") from None
        raise
    return report


def _rebuild(path: Path, aside: Path | None, damaged: bool) -> RebuildReport:
    summary = _dry_run()
    if not summary.success:
        raise RebuildError(f"the rebuild's dry run (Dagster run {summary.run_id}) failed: {summary.failure}")
    with duckdb.connect(str(path)) as conn:
        warehouse.prepare(conn)
        wanted = desired.load(conn)
        found, bodies = actual.found_ids(conn), actual.bodies(conn)
        record_in_ledger(
            conn, {obj.address: obj for obj in wanted}, found, {}, run_id=summary.run_id, now=datetime.now(UTC)
        )
    adopted, missing = adoption_counts(wanted, found, bodies)
    return RebuildReport(
        warehouse=path, kept_aside=aside, was_damaged=damaged, run_id=summary.run_id, adopted=adopted,
        not_in_stripe=missing, rejected_contracts=summary.rejected_contracts,
        planned_operations=summary.planned_operations,
    )


def _dry_run():
    """`sync --dry-run`'s job and scope, executed in this process: on `$DAGSTER_HOME`'s instance when set (the run
    shows in the UI, and the warehouse guard sees other runs), else on a throwaway one."""
    import dagster as dg

    from sf_stripe_pipeline.definitions import defs
    from sf_stripe_pipeline.runner import summarise, sync_request

    job_name, run_config, scope = sync_request(dry_run=True)
    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    with instance:
        result = defs().resolve_job_def(job_name).execute_in_process(
            instance=instance, run_config=run_config, raise_on_error=False
        )
        return summarise(instance, result.run_id, job_name, scope)


def format_report(report: RebuildReport) -> str:
    """A few lines: where things are, what was adopted per Stripe object type and how, what the next sync does."""
    how_width = max(map(len, report.adopted), default=0)
    lines = [
        f"Rebuilt {report.warehouse} from Salesforce and Stripe (Dagster run {report.run_id}); nothing was written "
        "to either",
        f"Adopted {report.adopted_total} Stripe objects into the ledger"
        + (":" if report.adopted else " (Stripe holds none of the objects the org needs)"),
    ]
    for stripe_object, how in report.adopted.items():
        lines.append(
            f"  {stripe_object:<{how_width}}  {sum(how.values()):>6,}  ({how[BY_WRITTEN_BACK_ID]} by the "
            f"{BY_WRITTEN_BACK_ID} written back, {how[BY_SYNC_KEY]} by {BY_SYNC_KEY} metadata)"
        )
    if report.not_in_stripe:
        lines.append("Not in Stripe (the next sync creates them): " + ", ".join(
            f"{stripe_object} {count}" for stripe_object, count in sorted(report.not_in_stripe.items())
        ))
    planned = sum(report.planned_operations.values())
    lines.append(
        f"Next sync: {planned} Stripe operations planned"
        + (" (" + ", ".join(f"{name} {n}" for name, n in sorted(report.planned_operations.items())) + ")"
           if planned else "")
        + (f"; {report.rejected_contracts} contracts rejected by validation" if report.rejected_contracts else "")
    )
    if report.kept_aside:
        lines.append(f"The {'damaged' if report.was_damaged else 'previous'} warehouse is kept at {report.kept_aside}")
    return "\n".join(lines)
