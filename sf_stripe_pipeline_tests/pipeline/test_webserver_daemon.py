"""The deployed shape: dagster-webserver + dagster-daemon on a scratch instance (the project's dagster.yaml and
workspace.yaml, on SQLite and on PostgreSQL), driven through the GraphQL API as the UI drives it: a job backfill of
two days (launched by the daemon's backfill loop, dequeued by its run queue) and a manual sync from the Launchpad."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import requests

from .conftest import SyncedOrg

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
LOCATION = {"repositoryLocationName": "sf_stripe_pipeline", "repositoryName": "__repository__"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Dagster:
    def __init__(self, url: str, processes: list[subprocess.Popen], logs: Path) -> None:
        self.url = url
        self.processes = processes
        self.logs = logs

    def gql(self, query: str, **variables) -> dict:
        response = requests.post(f"{self.url}/graphql", json={"query": query, "variables": variables}, timeout=60)
        response.raise_for_status()
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]

    def wait(self, predicate, timeout: float, what: str, poll: float = 1.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if value := predicate():
                return value
            if any(process.poll() is not None for process in self.processes):  # e.g. the port was taken
                raise AssertionError(f"a Dagster process exited while waiting for {what}:\n{self._log_tails()}")
            time.sleep(poll)
        raise AssertionError(f"gave up waiting for {what}:\n{self._log_tails()}")

    def _log_tails(self) -> str:
        return "\n".join(f"{log.name}: {log.read_text()[-2000:]}" for log in sorted(self.logs.glob("*.log")))


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    # own process group: stopping it stops the code servers and run workers the process started
    return subprocess.Popen(args, cwd=REPO, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)


def _stop(process: subprocess.Popen, grace: float = 30) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture
def deployed(demo_org: SyncedOrg, dagster_home: Path, tmp_path: Path) -> Iterator[Dagster]:
    env = dict(os.environ)  # the daemon launches the runs: they get its SF_STRIPE_HOME, config and pinned clock
    # Create the storage once, here: two processes creating a fresh SQLite instance at once race on its schema.
    with dg.DagsterInstance.get() as instance:
        instance.get_runs(limit=1)
        instance.all_instigator_state()
        instance.fetch_run_status_changes(dg.DagsterEventType.RUN_SUCCESS, limit=1)
    port = _free_port()
    daemon = _start([str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"], env, tmp_path / "daemon.log")
    webserver = _start(
        [str(BIN / "dagster-webserver"), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        env, tmp_path / "webserver.log",
    )
    dagster = Dagster(f"http://127.0.0.1:{port}", [daemon, webserver], tmp_path)
    try:
        dagster.wait(lambda: _answers(dagster), 180, "the webserver")
        dagster.wait(lambda: _location_loaded(dagster), 180, "the code location")
        dagster.wait(lambda: _daemons_healthy(dagster), 180, "the daemon heartbeats")
        yield dagster
    finally:
        _stop(webserver)
        _stop(daemon)


def _answers(dagster: Dagster) -> bool:
    try:
        return requests.get(f"{dagster.url}/server_info", timeout=5).ok
    except requests.ConnectionError:
        return False


def _location_loaded(dagster: Dagster) -> bool:
    data = dagster.gql("""{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus
        locationOrLoadError { __typename ... on PythonError { message } } } } } }""")
    [entry] = data["workspaceOrError"]["locationEntries"]
    assert entry["locationOrLoadError"]["__typename"] != "PythonError", entry
    return entry["loadStatus"] == "LOADED" and entry["locationOrLoadError"]["__typename"] == "RepositoryLocation"


def _daemons_healthy(dagster: Dagster) -> bool:
    data = dagster.gql("{ instance { daemonHealth { allDaemonStatuses { daemonType healthy required } } } }")
    statuses = {s["daemonType"]: s["healthy"] for s in data["instance"]["daemonHealth"]["allDaemonStatuses"] if s["required"]}
    return all(statuses.get(kind) for kind in ("QUEUED_RUN_COORDINATOR", "BACKFILL", "MONITORING"))


RUNS = """query($filter: RunsFilter) { runsOrError(filter: $filter) { ... on Runs { results {
    runId status jobName tags { key value } repositoryOrigin { repositoryLocationName repositoryName } } } } }"""


def _runs(dagster: Dagster, **filter_) -> list[dict]:
    return dagster.gql(RUNS, filter=filter_)["runsOrError"]["results"]


def _finished(runs: list[dict]) -> bool:
    return bool(runs) and all(run["status"] in ("SUCCESS", "FAILURE", "CANCELED") for run in runs)


def test_a_backfill_and_a_manual_sync_through_webserver_and_daemon(deployed: Dagster, demo_org: SyncedOrg) -> None:
    backfill = deployed.gql(
        """mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
            __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }""",
        params={
            "selector": {"partitionSetName": "sync_job_partition_set", "repositorySelector": LOCATION},
            "partitionNames": ["2025-03-09", "2025-03-10"],
        },
    )["launchPartitionBackfill"]
    assert backfill["__typename"] == "LaunchBackfillSuccess", backfill
    [order, *_] = demo_org.unamended_new_orders()
    manual = deployed.gql(
        """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
            __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
            ... on RunConfigValidationInvalid { errors { message } } } }""",
        params={
            "selector": {**LOCATION, "jobName": "manual_sync_job"},
            "runConfigData": json.dumps({"order_ids": [order["Id"]]}),
        },
    )["launchRun"]
    assert manual["__typename"] == "LaunchRunSuccess", manual
    manual_id = manual["run"]["runId"]

    backfill_tag = [{"key": "dagster/backfill", "value": backfill["backfillId"]}]
    backfill_runs = deployed.wait(
        lambda: (runs := _runs(deployed, tags=backfill_tag)) and len(runs) == 2 and _finished(runs) and runs,
        600, "the backfill's two runs", poll=2,
    )
    [manual_run] = deployed.wait(
        lambda: (runs := _runs(deployed, runIds=[manual_id])) and _finished(runs) and runs, 600, "the manual run", poll=2
    )

    for run in [*backfill_runs, manual_run]:
        assert run["status"] == "SUCCESS", run
        assert run["repositoryOrigin"] == LOCATION
    assert {run["jobName"] for run in backfill_runs} == {"sync_job"}
    assert sorted(tag["value"] for run in backfill_runs for tag in run["tags"] if tag["key"] == "dagster/partition") == [
        "2025-03-09", "2025-03-10",
    ]
    assert manual_run["jobName"] == "manual_sync_job"
    assert demo_org.stripe_id("Order", order["Id"]).startswith("sub_sched_")
    scopes = _scopes(deployed)
    assert f"orders {order['Id']}" in scopes and {"2025-03-09", "2025-03-10"} <= set(scopes)


def _scopes(dagster: Dagster) -> list[str]:
    """The `scope` metadata of every applied_sync materialization, as the asset's page lists them."""
    data = dagster.gql("""{ assetOrError(assetKey: {path: ["sync", "applied_sync"]}) { ... on Asset {
        assetMaterializations(limit: 10) { metadataEntries { label ... on TextMetadataEntry { text } } } } } }""")
    return [
        entry["text"]
        for materialization in data["assetOrError"]["assetMaterializations"]
        for entry in materialization["metadataEntries"]
        if entry["label"] == "scope"
    ]
