"""Session-wide test settings.

The pipeline's Dagster definitions read the sync config when they load, so the whole test session uses one config
file (`sync_config.yaml` here) unless `SF_STRIPE_CONFIG` is already set. Each test gets its own `SF_STRIPE_HOME`.

Tiers: tests under `E2E` are marked `e2e` (Dagster runs, child processes and servers, the scenario suite, the
bad-data corpus, kill-and-rerun). `pytest -m "not e2e"` is the fast loop (pure core, the sandboxes through the real
clients, config); plain `pytest` runs both.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).parent
TEST_CONFIG = TESTS_DIR / "sync_config.yaml"
os.environ.setdefault("SF_STRIPE_CONFIG", str(TEST_CONFIG))

E2E: tuple[str, ...] = (
    # Dagster jobs through the instance, CLI subprocesses, the webserver and daemon, PostgreSQL.
    "pipeline/",
    "pipeline_semantics/",
    "reliability/",
    "scenarios/test_scenarios.py",
    "bad_data/test_corpus.py",
    "bad_data/test_old_start_date.py",
    "bad_data/test_run_limits.py",
    # Single tests that start a child process or a server beside otherwise fast modules.
    "sandbox_demo/test_cli.py::test_serve_answers_both_apis_over_loopback_until_interrupted",
    "sandbox_demo/test_cli.py::test_replacing_the_org_keeps_the_warehouse_true_to_it",  # three Dagster dry runs
    "sandbox_salesforce/test_faults.py::test_a_child_process_is_faulted_through_the_environment",
    "sandbox_stripe/test_faults.py::test_fail_after_writes_counts_across_processes",
)
"""The slow tier, by path under this folder: a folder ("x/"), a module ("x/test_y.py") or one test ("...::test_z")."""


def is_e2e(test: str) -> bool:
    """Whether `test` ("folder/test_module.py::test_name", no parameters) is in the slow tier."""
    return any(test == entry or ("::" not in entry and test.startswith(entry)) for entry in E2E)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        test = f"{item.path.relative_to(TESTS_DIR).as_posix()}::{getattr(item, 'originalname', item.name)}"
        if is_e2e(test):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(autouse=True)
def _isolated_state_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test touches ./.sf_stripe: every test has a fresh state home unless it sets its own."""
    home = tmp_path_factory.mktemp("sf_stripe_home")
    monkeypatch.setenv("SF_STRIPE_HOME", str(home))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    return home
