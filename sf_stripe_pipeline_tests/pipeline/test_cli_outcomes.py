"""Honest outcomes on the command line: exit codes, a failed run's first error in one line, bad local state refused
in one line before anything is written, and the plan limit saying how to allow a large sync."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sf_stripe_pipeline import home
from sf_stripe_pipeline.cli import main
from sf_stripe_pipeline.core.config import ConfigError
from sf_stripe_pipeline.sandbox.salesforce.faults import FAULTS_ENV_VAR as SALESFORCE_FAULTS
from sf_stripe_pipeline.sandbox.stripe.faults import FAULTS_ENV_VAR as STRIPE_FAULTS

from .conftest import SyncedOrg

CONFIG = Path(os.environ["SF_STRIPE_CONFIG"])


def _writes(synced: SyncedOrg) -> tuple[int, int]:
    return (
        sum(1 for entry in synced.stripe_sandbox.request_log() if entry.is_write),
        sum(1 for entry in synced.salesforce.request_log() if entry.is_write),
    )


def test_a_sync_with_failed_operations_exits_3_and_says_so_first(
    demo_org: SyncedOrg, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(STRIPE_FAULTS, '{"fail_after_writes": 70}')

    code = main(["sync"])

    out = capsys.readouterr().out
    first_line, *rest = out.splitlines()
    assert code == 3, out
    assert first_line.startswith("FAILED: ") and " operations failed" in first_line
    failed, total = (int(word) for word in first_line.removeprefix("FAILED: ").split(" operations")[0].split(" of "))
    assert 0 < failed < total
    assert "Injected fault: writes fail after 70 executed writes" in out
    rejected_line = next(line for line in rest if line.startswith("Contracts synced:"))
    assert rejected_line.endswith("rejected: 5"), "rejections (validation) are counted apart from failures (API)"


def test_a_failed_run_prints_its_first_error_in_one_line(
    demo_org: SyncedOrg, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["sync", "--order", "801000000000NOPE"])

    captured = capsys.readouterr()
    assert code == 1
    assert captured.out.splitlines()[0] == (
        "FAILED: order_ids not found in the extracted Salesforce Orders: 801000000000NOPE"
    )
    assert "Traceback" not in captured.out + captured.err
    assert _writes(demo_org) == (0, 0)


def test_salesforce_refusing_reads_ends_the_run_at_once_with_the_reason(
    demo_org: SyncedOrg, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(SALESFORCE_FAULTS, '{"read_error_rate": 1.0}')
    reads_before = len(demo_org.salesforce.request_log())

    code = main(["sync"])

    first_line = capsys.readouterr().out.splitlines()[0]
    assert code == 1
    assert first_line.startswith("FAILED: Salesforce refused reading Account (HTTP 500 UNKNOWN_EXCEPTION")
    assert len(demo_org.salesforce.request_log()) - reads_before == 1, "one refused read, no retries"
    assert _writes(demo_org) == (0, 0)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "half", "empty"])
def test_a_damaged_warehouse_is_refused_in_one_line_before_anything_is_written(
    demo_org: SyncedOrg, damage: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sync", "--dry-run"]) == 0  # a real warehouse to damage
    path = home.warehouse_path()
    whole = path.read_bytes()
    damaged = {
        "garbage": os.urandom(len(whole)), "truncated": whole[:1000], "half": whole[: len(whole) // 2], "empty": b"",
    }[damage]
    path.write_bytes(damaged)
    capsys.readouterr()

    sync_code, demo_code = main(["sync"]), main(["demo", "--orders", "28"])

    err = capsys.readouterr().err
    assert (sync_code, demo_code) == (2, 2)
    [sync_line, demo_line] = err.splitlines()
    assert sync_line == demo_line
    assert sync_line.startswith(f"sf-stripe-pipeline: error: {path}: the warehouse is damaged (")
    assert "Move it aside or delete it, then sync again" in sync_line
    assert path.read_bytes() == damaged
    assert _writes(demo_org) == (0, 0), "the demo did not even reset the sandboxes"


def test_damaged_sandbox_state_is_refused_in_one_line(demo_org: SyncedOrg, capsys: pytest.CaptureFixture[str]) -> None:
    demo_org.stripe_sandbox.close()
    store = home.stripe_sandbox_dir() / "stripe.sqlite3"
    store.write_bytes(b"not a database" * 100)

    code = main(["sync"])

    err = capsys.readouterr().err
    assert code == 2
    assert len(err.splitlines()) == 1 and str(store) in err and "sandbox reset" in err


def test_the_plan_limit_says_how_to_allow_a_large_sync_and_the_flag_allows_it(
    demo_org: SyncedOrg, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "small_limit.yaml"
    config.write_text(CONFIG.read_text() + "\nlimits:\n  max_operations_per_run: 10\n  allow_destructive: true\n")
    monkeypatch.setenv(home.CONFIG_ENV_VAR, str(config))

    refused = main(["sync"])

    first_line = capsys.readouterr().out.splitlines()[0]
    planned = int(first_line.removeprefix("FAILED: ").split(" operations planned")[0])
    assert refused == 1
    assert first_line == (
        f"FAILED: {planned} operations planned, more than the limit of 10. To allow a large sync explicitly, run "
        f"`sf-stripe-pipeline sync --max-operations {planned}` (or set limits.max_operations_per_run in {config})"
    )
    assert _writes(demo_org) == (0, 0), "the blocking check stopped the run before any write"

    assert main(["sync", "--max-operations", str(planned)]) == 0
    assert capsys.readouterr().out.startswith("OK: every operation applied")
    assert _writes(demo_org)[0] > 0


def test_a_bad_config_is_answered_one_line_per_problem_with_exit_2(
    demo_org: SyncedOrg, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("start_date: 2025-01-01\nlimits:\n  max_operations_per_run: 0\nlive_sync:\n  interval_minutes: 0\n")
    monkeypatch.setenv(home.CONFIG_ENV_VAR, str(config))

    code = main(["sync"])

    err = capsys.readouterr().err
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 2 and "Traceback" not in err
    assert all(line.startswith(f"sf-stripe-pipeline: error: {config}: ") for line in lines)
    assert {line.split(": ")[3] for line in lines} == {"limits.max_operations_per_run", "live_sync.interval_minutes"}
    assert _writes(demo_org) == (0, 0)
    with pytest.raises(ConfigError):  # --debug: the traceback, for a bug report
        main(["--debug", "sync"])
