"""A secret given to the pipeline appears nowhere it writes: not on the terminal, not in the Dagster event log or run
storage, not in DuckDB, not in any file under `$SF_STRIPE_HOME` or `$DAGSTER_HOME`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb

from sf_stripe_pipeline import home
from sf_stripe_pipeline.sandbox.stripe import StripeSandbox
from sf_stripe_pipeline.sandbox.transport import serve

from .conftest import SyncedOrg

REPO = Path(__file__).resolve().parents[2]
MARKER = "sk_test_MARKERq7c3e9d1f05b"
"""A Stripe test-mode key nobody else uses; the sandbox served on loopback accepts any test key."""


def _files_holding(folder: Path, needle: bytes) -> list[str]:
    return [str(path) for path in folder.rglob("*") if path.is_file() and needle in path.read_bytes()]


def _warehouse_rows_holding(path: Path, needle: str) -> list[str]:
    """DuckDB compresses strings on disk, so the tables are searched through SQL too."""
    found = []
    with duckdb.connect(str(path), read_only=True) as conn:
        columns = conn.execute(
            "SELECT schema_name, table_name, column_name FROM duckdb_columns() "
            "WHERE data_type IN ('VARCHAR', 'JSON') OR data_type LIKE '%[]'"
        ).fetchall()
        for schema, table, column in columns:
            hits = conn.execute(
                f'SELECT count(*) FROM "{schema}"."{table}" WHERE CAST("{column}" AS VARCHAR) LIKE ?', [f"%{needle}%"]
            ).fetchone()[0]
            if hits:
                found.append(f"{schema}.{table}.{column}")
    return found


def test_a_stripe_key_appears_in_no_output_log_run_storage_table_or_state_file(demo_org: SyncedOrg, tmp_path: Path) -> None:
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    shutil.copy(REPO / "dagster.yaml", dagster_home / "dagster.yaml")
    served = StripeSandbox(tmp_path / "stripe_server")  # "real Stripe": reached over HTTP with the key
    with serve(served, 0) as server:
        env = {**os.environ, "DAGSTER_HOME": str(dagster_home), "STRIPE_API_KEY": MARKER, "STRIPE_API_BASE": server.url}
        result = subprocess.run(
            [str(Path(sys.executable).parent / "sf-stripe-pipeline"), "sync"], cwd=REPO, env=env,
            capture_output=True, text=True, timeout=600,
        )

    assert result.returncode == 0, result.stdout + result.stderr
    assert served.client().v1.subscription_schedules.list({"limit": 3}).data, "the key was used to write"
    assert MARKER not in result.stdout + result.stderr
    assert _files_holding(dagster_home, MARKER.encode()) == [], "event log, run storage, schedules"
    assert _files_holding(demo_org.home, MARKER.encode()) == [], "warehouse, sandboxes, anything else"
    assert _warehouse_rows_holding(home.warehouse_path(demo_org.home), MARKER) == []
