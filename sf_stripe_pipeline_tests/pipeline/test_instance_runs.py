"""`sf-stripe-pipeline sync` with `DAGSTER_HOME`: runs go through the instance's queue with their job's origin, a
crashed run (SIGKILL) is reaped instead of wedging every later sync, a waiting CLI names what it waits for and stops
cleanly on SIGTERM/SIGINT, and two runs never write the warehouse at once. Driven as a user runs it, in processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from contextlib import closing

import dagster as dg
import pytest
import yaml

from sf_stripe_pipeline import home
from sf_stripe_pipeline.definitions import defs
from sf_stripe_pipeline.defs.sync.assets import APPLIED_SYNC
from sf_stripe_pipeline.sandbox.salesforce import SalesforceSandbox
from sf_stripe_pipeline.sandbox.stripe.faults import FAULTS_ENV_VAR as STRIPE_FAULTS

from .conftest import SyncedOrg

REPO = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).parent / "sf-stripe-pipeline")
SLOW_STRIPE = '{"latency_seconds": 0.2}'
"""Slows the apply enough to act on a run while it writes."""
SLOWER_STRIPE = '{"latency_seconds": 1.0}'
"""Slows it enough for a second CLI to load the code location and queue behind it (the run is cancelled)."""


@pytest.fixture(autouse=True)
def one_request_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The apply sends one Stripe request at a time, so the latencies below keep a run applying long enough to act
    on it (concurrent lanes would finish the demo's writes in seconds)."""
    config = tmp_path / "one_request_at_a_time.yaml"
    settings = yaml.safe_load(Path(os.environ[home.CONFIG_ENV_VAR]).read_text())
    settings.setdefault("stripe", {})["concurrency"] = 1
    config.write_text(yaml.safe_dump(settings))
    monkeypatch.setenv(home.CONFIG_ENV_VAR, str(config))


def _instance(dagster_home: Path) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_config(str(dagster_home))


def _env(**overrides: str) -> dict[str, str]:
    return {**os.environ, **overrides}


def _sync(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, "sync", *args], cwd=REPO, env=_env(**env), capture_output=True, text=True, timeout=600)


def _start_sync(log: Path, **env: str) -> subprocess.Popen:
    """A `sync` in its own process group (so a SIGKILL of the group also kills its code server and run worker)."""
    return subprocess.Popen([CLI, "sync"], cwd=REPO, env=_env(**env), stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def _wait_for(predicate: Callable[[], object], what: str, timeout: float = 300) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.5)
    raise AssertionError(f"gave up waiting for {what}")


def _run_applying(instance: dg.DagsterInstance) -> dg.DagsterRun | None:
    """The run whose applied_sync step has started (it holds the stripe_api pool slot), if any."""
    for run in instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
        steps = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.STEP_START).records
        if any(record.event_log_entry.step_key == "sync__applied_sync" for record in steps):
            return run
    return None


@pytest.fixture
def stop_later() -> Iterator[list[subprocess.Popen]]:
    processes: list[subprocess.Popen] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_the_demo_and_a_manual_sync_run_through_the_instance_on_sqlite_and_postgres(dagster_home: Path) -> None:
    demo = subprocess.run([CLI, "demo", "--orders", "28"], cwd=REPO, env=_env(), capture_output=True, text=True,
                          timeout=600)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    with closing(SalesforceSandbox(home.salesforce_sandbox_dir())) as salesforce:
        [order] = salesforce.client().query("SELECT Id FROM Order WHERE Stripe_ID__c != null LIMIT 1")["records"]

    manual = _sync("--order", order["Id"])

    assert manual.returncode == 0, manual.stdout + manual.stderr
    assert f"(manual_sync_job, orders {order['Id']})" in manual.stdout
    with _instance(dagster_home) as instance:
        runs = instance.get_runs()
        assert {run.job_name for run in runs} == {"sync_job", "manual_sync_job"}
        assert all(run.status == dg.DagsterRunStatus.SUCCESS for run in runs)
        assert all(run.remote_job_origin.location_name == "sf_stripe_pipeline" for run in runs)
        scopes = [record.asset_materialization.metadata["scope"].value
                  for record in instance.fetch_materializations(APPLIED_SYNC, limit=2).records]
    assert scopes[0] == f"orders {order['Id']}" and "..." in scopes[1], "the manual sync overwrote no day's scope"


def test_a_sigkilled_sync_is_reaped_by_the_next_one_instead_of_wedging_it(
    demo_org: SyncedOrg, sqlite_dagster_home: Path, tmp_path: Path, stop_later: list[subprocess.Popen]
) -> None:
    first = _start_sync(tmp_path / "first.log", **{STRIPE_FAULTS: SLOW_STRIPE})
    stop_later.append(first)
    with _instance(sqlite_dagster_home) as instance:
        crashed = _wait_for(lambda: _run_applying(instance), "the first run to apply")
        os.killpg(first.pid, signal.SIGKILL)  # the CLI, its code server and the run worker: nobody reports the end
        first.wait()
        assert instance.get_run_by_id(crashed.run_id).status == dg.DagsterRunStatus.STARTED
        assert crashed.run_id in instance.event_log_storage.get_concurrency_run_ids(), "it holds a pool slot"

    second = _sync()

    assert second.returncode == 0, second.stdout + second.stderr
    assert f"Reaped run {crashed.run_id} (sync_job, STARTED): its process" in second.stderr
    with _instance(sqlite_dagster_home) as instance:
        assert instance.get_run_by_id(crashed.run_id).status == dg.DagsterRunStatus.FAILURE
        assert [run.status for run in instance.get_runs(limit=1)] == [dg.DagsterRunStatus.SUCCESS]
        assert not instance.event_log_storage.get_concurrency_run_ids()


def test_a_waiting_sync_names_the_run_it_waits_for_and_both_stop_cleanly_on_sigterm_and_sigint(
    demo_org: SyncedOrg, sqlite_dagster_home: Path, tmp_path: Path, stop_later: list[subprocess.Popen]
) -> None:
    first = _start_sync(tmp_path / "first.log", **{STRIPE_FAULTS: SLOWER_STRIPE})
    stop_later.append(first)
    with _instance(sqlite_dagster_home) as instance:
        running = _wait_for(lambda: _run_applying(instance), "the first run to apply")
        second_log = tmp_path / "second.log"
        second = _start_sync(second_log)
        stop_later.append(second)
        _wait_for(lambda: f"Waiting for run {running.run_id} (sync_job, STARTED) to finish" in second_log.read_text(),
                  "the second sync to say what it waits for")

        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=120) == 1
        first.send_signal(signal.SIGINT)
        assert first.wait(timeout=120) == 1

        waiting_run = next(run for run in instance.get_runs() if run.run_id != running.run_id)
        assert waiting_run.status == dg.DagsterRunStatus.CANCELED, "the queued run was withdrawn"
        assert instance.get_run_by_id(running.run_id).status == dg.DagsterRunStatus.CANCELED
    assert "Stopped: run" in second_log.read_text() and "stopped" in second_log.read_text()
    assert f"Stopping: cancelling run {running.run_id}" in (tmp_path / "first.log").read_text()


def test_a_second_run_started_outside_the_queue_refuses_to_write_naming_the_first(
    demo_org: SyncedOrg, sqlite_dagster_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(STRIPE_FAULTS, SLOW_STRIPE)
    job = defs().resolve_job_def("sync_job")
    with _instance(sqlite_dagster_home) as instance:
        outcome: dict[str, dg.ExecuteInProcessResult] = {}
        first = threading.Thread(target=lambda: outcome.update(first=job.execute_in_process(instance=instance)))
        first.start()
        running = _wait_for(lambda: _run_applying(instance), "the first run to apply")

        second = defs().resolve_job_def("manual_sync_job").execute_in_process(
            instance=instance, run_config={"order_ids": [demo_org.org["Order"][0]["Id"]]}, raise_on_error=False
        )
        first.join()

    assert outcome["first"].success
    assert not second.success
    from sf_stripe_pipeline.instance_runs import first_error

    with _instance(sqlite_dagster_home) as instance:
        assert first_error(instance, second.run_id) == (
            f"Another run is writing the warehouse: run {running.run_id} (sync_job, STARTED). Wait for it to finish, "
            "then retry."
        )
    assert not second.get_asset_materialization_events(), "it wrote nothing"
