"""A damaged on-disk store is refused when the sandbox opens, with one line naming the file and the recovery, and
the recovery commands (sandbox reset, sandbox load-org) work on it."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

from sf_stripe_pipeline import home
from sf_stripe_pipeline.cli import main
from sf_stripe_pipeline.sandbox.demo_org import MIN_DEMO_ORDERS
from sf_stripe_pipeline.sandbox.salesforce import SalesforceSandbox, SandboxStateError
from sf_stripe_pipeline.sandbox.salesforce.store import APPLICATION_ID, DATABASE_FILE
from sf_stripe_pipeline.sandbox.snapshot import write_snapshot

from .conftest import small_org

PAGE = 4096


def truncate(path: Path) -> None:
    path.write_bytes(b"")


def garbage_header(path: Path) -> None:
    with path.open("r+b") as file:
        file.write(b"this is not SQLite" * 6)


def random_page_in_the_middle(path: Path) -> None:
    """One page of random bytes half way through the file: a table's b-tree page, page header included."""
    page_count = path.stat().st_size // PAGE
    with path.open("r+b") as file:
        file.seek(page_count // 2 * PAGE)
        file.write(random.Random(11).randbytes(PAGE))


def foreign_database(path: Path) -> None:
    path.unlink()
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE notes (body TEXT)")
        connection.execute("INSERT INTO notes VALUES ('not an org')")
    connection.close()


@pytest.fixture
def store_root(tmp_path: Path) -> Path:
    """A closed sandbox store with the small org plus 3,000 sync records, its WAL checkpointed into the file."""
    root = tmp_path / "salesforce"
    sandbox = SalesforceSandbox(root)
    sandbox.replace_org(small_org())
    sf = sandbox.client()
    for batch in range(15):
        records = [
            {"attributes": {"type": "Sync_Record__c"}, "Compound_ID__c": f"{batch}-{n}", "Resolution_Message__c": "ok"}
            for n in range(200)
        ]
        sf.restful("composite/sobjects", method="POST", json={"allOrNone": True, "records": records})
    sandbox.close()
    return root


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (truncate, "is empty (0 bytes)"),
        (garbage_header, "is damaged or not an SQLite database (file is not a database)"),
        (random_page_in_the_middle, "is damaged"),
        (foreign_database, "is an SQLite database but not a Salesforce sandbox store"),
    ],
)
def test_a_damaged_store_is_refused_in_one_line(store_root: Path, damage: Callable[[Path], None], problem: str) -> None:
    path = store_root / DATABASE_FILE
    damage(path)
    with pytest.raises(SandboxStateError) as raised:
        SalesforceSandbox(store_root)
    message = str(raised.value)
    assert message.startswith(f"{path}: the Salesforce sandbox's store {problem}")
    assert "`sf-stripe-pipeline sandbox reset`" in message and "`sf-stripe-pipeline sandbox load-org DIR`" in message
    assert "\n" not in message


def test_the_cli_names_the_damage_and_reset_recovers(store_root: Path, monkeypatch, capsys, tmp_path) -> None:
    monkeypatch.setenv("SF_STRIPE_HOME", str(tmp_path / "home"))
    root = home.salesforce_sandbox_dir()
    root.parent.mkdir(parents=True)
    store_root.rename(root)
    random_page_in_the_middle(root / DATABASE_FILE)

    assert main(["sandbox", "export-org", str(tmp_path / "export")]) == 2  # a local-state error: exit 2, one line
    error = capsys.readouterr().err
    assert error.startswith(f"sf-stripe-pipeline: error: {root / DATABASE_FILE}: the Salesforce sandbox's store is")
    assert error.count("\n") == 1

    assert main(["sandbox", "reset", "--orders", str(MIN_DEMO_ORDERS)]) == 0
    assert (root / f"{DATABASE_FILE}.damaged").exists()  # kept for a post-mortem
    with closing(SalesforceSandbox(root)) as sandbox:
        assert sandbox.client().query("SELECT Id FROM Order")["totalSize"] == MIN_DEMO_ORDERS


def test_load_org_recovers_a_truncated_store(store_root: Path, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("SF_STRIPE_HOME", str(tmp_path / "home"))
    root = home.salesforce_sandbox_dir()
    root.parent.mkdir(parents=True)
    store_root.rename(root)
    truncate(root / DATABASE_FILE)
    write_snapshot(small_org(), tmp_path / "snapshot")

    assert main(["sandbox", "load-org", str(tmp_path / "snapshot")]) == 0
    with closing(SalesforceSandbox(root)) as sandbox:
        assert sandbox.client().query("SELECT Id FROM Account")["totalSize"] == 4


def test_a_store_from_before_the_marker_is_adopted(store_root: Path) -> None:
    path = store_root / DATABASE_FILE
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA application_id = 0")
    connection.close()
    with closing(SalesforceSandbox(store_root)) as sandbox:
        assert sandbox.client().query("SELECT Id FROM Account")["totalSize"] == 4
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    connection.close()

