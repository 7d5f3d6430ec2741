"""A corrupt or foreign store is refused at once with a SandboxStateError that names the file and the way back."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from sf_stripe_pipeline.sandbox.stripe import SandboxStateError, StripeSandbox
from sf_stripe_pipeline.sandbox.stripe.store import DATABASE_FILE


def filled_sandbox(root: Path) -> Path:
    sandbox = StripeSandbox(root)
    client = sandbox.client()
    for index in range(300):
        client.v1.customers.create(params={"name": f"Customer {index}", "description": "x" * 400})
    sandbox.close()
    return root / DATABASE_FILE


def assert_refused(root: Path) -> SandboxStateError:
    with pytest.raises(SandboxStateError) as refused:
        StripeSandbox(root)
    message = str(refused.value)
    assert str(root / DATABASE_FILE) in message
    assert f"Delete the folder {root}" in message and "sf-stripe-pipeline sandbox reset" in message
    return refused.value


def test_truncated_store_is_refused(tmp_path):
    database = filled_sandbox(tmp_path / "stripe")
    data = database.read_bytes()
    assert len(data) > 64 * 1024
    database.write_bytes(data[: len(data) // 3])
    assert_refused(tmp_path / "stripe")


def test_garbage_store_is_refused(tmp_path):
    root = tmp_path / "stripe"
    root.mkdir()
    (root / DATABASE_FILE).write_bytes(b"this is not a database\n" * 500)
    assert "not a database" in str(assert_refused(root))


def test_another_applications_sqlite_file_is_refused_and_left_untouched(tmp_path):
    root = tmp_path / "stripe"
    root.mkdir()
    with sqlite3.connect(root / DATABASE_FILE) as foreign:
        foreign.execute("CREATE TABLE invoices (number TEXT)")
    assert "another application" in str(assert_refused(root))
    with sqlite3.connect(root / DATABASE_FILE) as foreign:
        tables = {name for (name,) in foreign.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"invoices"}


def test_discard_state_recovers_a_refused_folder(tmp_path):
    root = tmp_path / "stripe"
    root.mkdir()
    (root / DATABASE_FILE).write_bytes(b"\x00" * 4096)
    assert_refused(root)
    StripeSandbox.discard_state(root)
    sandbox = StripeSandbox(root)
    assert sandbox.client().v1.customers.list().data == []
    sandbox.close()
