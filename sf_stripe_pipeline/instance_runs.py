"""Runs through the Dagster instance, as the UI, a schedule or `dagster job launch` makes them, followed from the
command line. Every import of Dagster's private API in this project is in this module (dagster is pinned exactly).

- The code location is loaded through Dagster's workspace machinery (a code server subprocess), so a run carries its
  job's origin (`remote_job_origin`, tag `.dagster/repository`) and shows in the Jobs view and the Overview timeline.
- The run is *submitted*: with `dagster.yaml`'s QueuedRunCoordinator it is QUEUED, and `max_concurrent_runs`, tag
  limits and pools decide when it starts.
- When no dagster-daemon heartbeats, the CLI dequeues its own run, and only when the daemon's own queue logic would
  pick it (so the queue still decides); runs queued by others stay for their CLI or the daemon.
- Crashed runs (their process is gone, e.g. after `kill -9`) are marked failed and their pool slots freed before a
  new run is submitted, and again while one waits; a waiting CLI says which run it waits for, or which run holds the
  pool slot it needs.
- A run launched by the daemon executes in the daemon's environment (its `SF_STRIPE_HOME`, credentials), so what
  the CLI reports comes from the run's event log, never from local files.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import dagster as dg
from dagster._core.events import DagsterEventType
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import ModuleTarget
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon

LOCATION_NAME = "sf_stripe_pipeline"
"""= workspace.yaml's location_name = pyproject's [tool.dg.project] code_location_name."""
REPOSITORY_NAME = "__repository__"
DEFINITIONS_MODULE = "sf_stripe_pipeline.definitions"
QUEUE_DAEMON = "QUEUED_RUN_COORDINATOR"
HEARTBEAT_FRESH_SECONDS = 90
"""The daemon heartbeats every 30 s; Dagster's own 'healthy' tolerance (30 min) is too lax to decide who dequeues."""
IN_PROGRESS = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]
REAP_EVERY_SECONDS = 5.0
PROGRESS_EVENTS = {
    DagsterEventType.RUN_START,
    DagsterEventType.STEP_START,
    DagsterEventType.STEP_FAILURE,
    DagsterEventType.STEP_UP_FOR_RETRY,
    DagsterEventType.ASSET_CHECK_EVALUATION,
    DagsterEventType.RUN_SUCCESS,
    DagsterEventType.RUN_FAILURE,
    DagsterEventType.RUN_CANCELED,
}
RUN_EVENT_WORDS = {
    DagsterEventType.RUN_START: "run started",
    DagsterEventType.RUN_SUCCESS: "run succeeded",
    DagsterEventType.RUN_FAILURE: "run failed",
    DagsterEventType.RUN_CANCELED: "run cancelled",
}
Show = Callable[[str], None]


@dataclass(frozen=True)
class FinishedRun:
    run_id: str
    status: dg.DagsterRunStatus
    launched_here: bool
    """True when this process's code server ran it (so it ran in this process's environment)."""


def describe(run: dg.DagsterRun) -> str:
    return f"run {run.run_id} ({run.job_name}, {run.status.value})"


@contextmanager
def code_location(instance: dg.DagsterInstance) -> Iterator[WorkspaceProcessContext]:
    """The project's code location, loaded as `workspace.yaml` loads it (a code server subprocess)."""
    target = ModuleTarget(
        module_name=DEFINITIONS_MODULE, attribute=None, working_directory=os.getcwd(), location_name=LOCATION_NAME
    )
    # The code server shares this terminal: only its warnings belong there, not its start and stop notices.
    with WorkspaceProcessContext(instance, target, code_server_log_level="WARNING") as workspace:
        yield workspace


def create_run(
    instance: dg.DagsterInstance,
    workspace: WorkspaceProcessContext,
    job_name: str,
    *,
    run_config: Mapping[str, object],
    tags: Mapping[str, str],
) -> dg.DagsterRun:
    """What the UI's launchRun does: a run of the job as the code location defines it, with its origin."""
    request = workspace.create_request_context()
    location = request.get_code_location(LOCATION_NAME)
    repository = location.get_repository(REPOSITORY_NAME)
    remote_job = repository.get_full_job(job_name)
    plan = location.get_execution_plan(
        remote_job, dict(run_config), step_keys_to_execute=None, known_state=None, instance=instance
    )
    return instance.create_run(
        job_name=job_name,
        run_id=str(uuid.uuid4()),
        run_config=dict(run_config),
        resolved_op_selection=None,
        step_keys_to_execute=plan.execution_plan_snapshot.step_keys_to_execute,
        op_selection=None,
        status=dg.DagsterRunStatus.NOT_STARTED,
        root_run_id=None,
        parent_run_id=None,
        tags={**remote_job.tags, **tags},
        job_snapshot=remote_job.job_snapshot,
        execution_plan_snapshot=plan.execution_plan_snapshot,
        parent_job_snapshot=remote_job.parent_job_snapshot,
        remote_job_origin=remote_job.get_remote_origin(),
        job_code_origin=remote_job.get_python_origin(),
        asset_selection=None,
        asset_check_selection=None,
        asset_graph=repository.asset_graph,
    )


def submit_and_follow(
    instance: dg.DagsterInstance,
    job_name: str,
    *,
    run_config: Mapping[str, object],
    tags: Mapping[str, str],
    show: Show,
    on_created: Callable[[str], None] = lambda run_id: None,
) -> FinishedRun:
    """Submit a run of `job_name` to the instance's run queue and wait for it, printing progress. On
    KeyboardInterrupt (Ctrl-C, or SIGTERM turned into one by the CLI) the run is cancelled before re-raising."""
    reap_crashed_runs(instance, show)
    with code_location(instance) as workspace:
        run = create_run(instance, workspace, job_name, run_config=run_config, tags=tags)
        on_created(run.run_id)
        instance.submit_run(run.run_id, workspace.create_request_context())
        show(f"Submitted {describe(instance.get_run_by_id(run.run_id) or run)} to the Dagster instance")
        try:
            return follow(instance, workspace, run.run_id, show)
        except KeyboardInterrupt:
            cancel(instance, run.run_id, show)
            raise


def follow(instance: dg.DagsterInstance, workspace: WorkspaceProcessContext, run_id: str, show: Show,
           poll_seconds: float = 0.5) -> FinishedRun:
    """Wait for the run, dequeuing it here when no daemon runs the queue, and print its progress."""
    dequeuer = QueuedRunCoordinatorDaemon(interval_seconds=poll_seconds)
    cursor = None
    waiting_said = ""
    launched_here = False
    last_reap = time.monotonic()
    try:
        while True:
            run = instance.get_run_by_id(run_id)
            assert run is not None, run_id
            if run.status == dg.DagsterRunStatus.QUEUED:
                if time.monotonic() - last_reap > REAP_EVERY_SECONDS:
                    reap_crashed_runs(instance, show)
                    last_reap = time.monotonic()
                waiting = waiting_for(instance, run_id)
                if waiting and waiting != waiting_said:
                    show(waiting)
                waiting_said = waiting
                if not queue_daemon_alive(instance) and _would_dequeue(instance, dequeuer, run_id):
                    instance.launch_run(run_id, workspace.create_request_context())
                    launched_here = True
            connection = instance.get_records_for_run(run_id, cursor=cursor, of_type=PROGRESS_EVENTS)
            cursor = connection.cursor
            for record in connection.records:
                if line := _progress_line(record.event_log_entry):
                    show(line)
            if run.is_finished:
                return FinishedRun(run_id, run.status, launched_here)
            time.sleep(poll_seconds)
    finally:
        dequeuer.__exit__(None, None, None)


def _progress_line(entry) -> str:
    event = entry.dagster_event
    if event is None:
        return ""
    stamp = time.strftime("%H:%M:%S", time.localtime(entry.timestamp))
    if event.event_type == DagsterEventType.STEP_START:
        return f"  {stamp}  {event.step_key}"
    if event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
        evaluation = event.event_specific_data
        if evaluation.passed:
            return ""
        return f"  {stamp}  check {evaluation.check_name} on {evaluation.asset_key.to_user_string()} did not pass"
    if event.event_type in (DagsterEventType.STEP_FAILURE, DagsterEventType.STEP_UP_FOR_RETRY):
        return f"  {stamp}  {event.step_key}: {event.event_type_value.lower().replace('_', ' ')}"
    return f"  {stamp}  {RUN_EVENT_WORDS.get(event.event_type, event.event_type_value)}"


def queue_daemon_alive(instance: dg.DagsterInstance) -> bool:
    heartbeat = instance.get_daemon_heartbeats().get(QUEUE_DAEMON)
    return heartbeat is not None and time.time() - heartbeat.timestamp < HEARTBEAT_FRESH_SECONDS


def _would_dequeue(instance: dg.DagsterInstance, dequeuer: QueuedRunCoordinatorDaemon, run_id: str) -> bool:
    """Whether the daemon's own choice (max_concurrent_runs, tag limits, pools, priority, FIFO) includes our run."""
    eligible = dequeuer._get_runs_to_dequeue(instance, instance.get_concurrency_config(), fixed_iteration_time=None)
    return any(run.run_id == run_id for run in eligible)


def waiting_for(instance: dg.DagsterInstance, run_id: str) -> str:
    """Why a queued run has not started: the runs in progress, else the runs holding the pool slots, else the runs
    queued before it. Empty when nothing visibly holds it."""
    in_progress = [run for run in runs_in_progress(instance) if run.run_id != run_id]
    if in_progress:
        return "Waiting for " + ", ".join(describe(run) for run in in_progress) + " to finish"
    storage = instance.event_log_storage
    holders: dict[str, set[str]] = {}
    for pool in sorted(storage.get_concurrency_keys()):
        for slot in storage.get_concurrency_info(pool).claimed_slots:
            if slot.run_id != run_id:
                holders.setdefault(slot.run_id, set()).add(pool)
    if holders:
        runs = {record.dagster_run.run_id: record.dagster_run
                for record in instance.get_run_records(dg.RunsFilter(run_ids=list(holders)))}
        return "Waiting for pool slots: " + "; ".join(
            f"{', '.join(sorted(pools))} held by {describe(runs[holder]) if holder in runs else 'run ' + holder}"
            for holder, pools in holders.items()
        ) + " (free them in the UI's Concurrency page, or end that run)"
    queued = instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.QUEUED]), ascending=True)
    ahead = [record.dagster_run for record in queued if record.dagster_run.run_id != run_id]
    if ahead and ahead[0].run_id != run_id and any(r.dagster_run.run_id == run_id for r in queued):
        position = [record.dagster_run.run_id for record in queued].index(run_id)
        if position:
            return "Waiting behind " + ", ".join(describe(run) for run in ahead[:position])
    return ""


def runs_in_progress(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    return [record.dagster_run for record in instance.get_run_records(dg.RunsFilter(statuses=IN_PROGRESS))]


def cancel(instance: dg.DagsterInstance, run_id: str, show: Show, wait_seconds: float = 30) -> None:
    """Cancel our run: a queued one at once, a started one through its run launcher, waiting for it to stop."""
    run = instance.get_run_by_id(run_id)
    if run is None or run.is_finished:
        return
    show(f"Stopping: cancelling {describe(run)}")
    instance.run_coordinator.cancel_run(run_id)
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        run = instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            break
        time.sleep(0.5)
    if run is not None:
        show(f"Stopped: {describe(run)}")


# ------------------------------------------------------------------------------------------------- crashed runs


def run_process_id(instance: dg.DagsterInstance, run_id: str) -> int | None:
    """The pid of the process executing the run: the last engine event naming one ('Started process for run (pid:
    N)' from a launched run worker, 'Executing steps in process (pid: N)' from any executor)."""
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.ENGINE_EVENT).records
    for record in reversed(records):
        metadata = record.event_log_entry.dagster_event.engine_event_data.metadata
        if "pid" in metadata:
            return int(metadata["pid"].value)
    return None


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed child its parent has not reaped yet is a zombie: dead for our purpose
        with open(f"/proc/{pid}/status") as status:
            return not any(line.startswith("State:") and "Z" in line.split()[1] for line in status)
    except FileNotFoundError:
        return False


def reap_crashed_runs(instance: dg.DagsterInstance, show: Show) -> list[str]:
    """Runs in progress whose process on this host is gone: mark them failed (as Dagster's run monitoring would)
    and free their pool slots (as the UI's "free slots" button does). Also frees the slots finished runs still
    hold (what the daemon does after `free_slots_after_run_end_seconds`). Returns the run ids it reaped."""
    reaped = []
    storage = instance.event_log_storage
    for run in runs_in_progress(instance):
        pid = run_process_id(instance, run.run_id)
        if pid is None or process_alive(pid):
            continue
        message = f"The process running this run (pid {pid}) is gone: marked failed and its pool slots freed."
        instance.report_engine_event(message, run)
        instance.report_run_failed(run, message)
        storage.free_concurrency_slots_for_run(run.run_id)
        show(f"Reaped {describe(run)}: its process {pid} is gone; marked failed, pool slots freed")
        reaped.append(run.run_id)
    holders = storage.get_concurrency_run_ids()
    if holders:
        for record in instance.get_run_records(dg.RunsFilter(run_ids=list(holders))):
            if record.dagster_run.is_finished:
                storage.free_concurrency_slots_for_run(record.dagster_run.run_id)
                show(f"Freed the pool slots still held by finished {describe(record.dagster_run)}")
                reaped.append(record.dagster_run.run_id)
    return reaped


# ------------------------------------------------------------------------------------------------- what a run did


def materializations(instance: dg.DagsterInstance, run_id: str) -> dict[dg.AssetKey, dict]:
    """The run's latest materialization metadata per asset."""
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION).records
    return {
        record.event_log_entry.dagster_event.asset_key: record.event_log_entry.asset_materialization.metadata
        for record in records
    }


def check_evaluations(instance: dg.DagsterInstance, run_id: str) -> dict[str, object]:
    """The run's check evaluations by check name."""
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION).records
    return {
        record.event_log_entry.dagster_event.event_specific_data.check_name:
            record.event_log_entry.dagster_event.event_specific_data
        for record in records
    }


def first_error(instance: dg.DagsterInstance, run_id: str) -> str | None:
    """The run's real first error, in one line: the first step failure's description (a `dagster.Failure`), else
    the innermost error it wraps; else the run failure's. Never a follow-on error of a later step."""
    for event_type in (DagsterEventType.STEP_FAILURE, DagsterEventType.RUN_FAILURE, DagsterEventType.ENGINE_EVENT):
        for record in instance.get_records_for_run(run_id, of_type=event_type).records:
            event = record.event_log_entry.dagster_event
            data = event.event_specific_data
            user = getattr(data, "user_failure_data", None)
            if user is not None and user.description:
                return _one_line(user.description)
            error = getattr(data, "error", None)
            if error is not None:
                while error.cause is not None:  # the wrapped error is the real one
                    error = error.cause
                message = error.message.strip()  # "module.Class: text", as Python prints an exception
                if error.cls_name == "Failure":  # our own one-line descriptions need no class name
                    message = message.split(": ", 1)[-1]
                return _one_line(message)
            if event_type == DagsterEventType.RUN_FAILURE and record.event_log_entry.message:
                return _one_line(record.event_log_entry.message)
    return None


def _one_line(text: str) -> str:
    return " ".join(text.split())
