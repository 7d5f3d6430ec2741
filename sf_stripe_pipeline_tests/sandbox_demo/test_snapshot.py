"""Org snapshots: the demo org round-trips through the sandbox; malformed snapshots name file and record."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sf_stripe_pipeline.sandbox.salesforce import SalesforceSandbox
from sf_stripe_pipeline.sandbox.snapshot import SnapshotError, load_snapshot_into, read_snapshot, write_snapshot
from sf_stripe_pipeline_tests.sandbox_demo.conftest import Org, without_attributes


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[SalesforceSandbox]:
    salesforce = SalesforceSandbox(tmp_path / "salesforce")
    yield salesforce
    salesforce.close()


@pytest.fixture
def snapshot_dir(tmp_path: Path, small_org: Org) -> Path:
    directory = tmp_path / "snapshot"
    write_snapshot(small_org, directory)
    return directory


def test_demo_org_round_trips_through_the_sandbox(small_org: Org, snapshot_dir: Path,
                                                  sandbox: SalesforceSandbox) -> None:
    assert read_snapshot(snapshot_dir) == small_org
    counts = load_snapshot_into(sandbox, snapshot_dir)
    assert counts == {sobject: len(records) for sobject, records in small_org.items()}
    assert without_attributes(sandbox.export_org()) == small_org
    total = sandbox.client().query("SELECT Id FROM OrderItem")["totalSize"]
    assert total == len(small_org["OrderItem"])


def test_an_exported_org_is_a_snapshot_too(small_org: Org, snapshot_dir: Path, sandbox: SalesforceSandbox,
                                           tmp_path: Path) -> None:
    load_snapshot_into(sandbox, snapshot_dir)
    exported = tmp_path / "exported"
    write_snapshot(sandbox.export_org(), exported)
    assert without_attributes(read_snapshot(exported)) == small_org
    assert read_snapshot(exported)["Order"][0]["attributes"]["type"] == "Order"


def test_files_hold_one_record_per_line_and_stale_files_go(small_org: Org, snapshot_dir: Path) -> None:
    lines = (snapshot_dir / "Order.json").read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(small_org["Order"]) + 2  # "[", one line per record, "]"
    assert sorted(path.name for path in snapshot_dir.iterdir()) == sorted(f"{name}.json" for name in small_org)
    write_snapshot({"Account": small_org["Account"]}, snapshot_dir)
    assert [path.name for path in snapshot_dir.iterdir()] == ["Account.json"]


def _records(directory: Path, sobject: str) -> list[dict[str, Any]]:
    return json.loads((directory / f"{sobject}.json").read_text(encoding="utf-8"))


def _rewrite(directory: Path, sobject: str, change: Callable[[list[dict[str, Any]]], Any]) -> None:
    records = _records(directory, sobject)
    change(records)
    (directory / f"{sobject}.json").write_text(json.dumps(records), encoding="utf-8")


def _set_field(sobject: str, index: int, name: str, value: Any) -> Callable[[Path], None]:
    return lambda directory: _rewrite(directory, sobject, lambda records: records[index].__setitem__(name, value))


def _write_text(name: str, text: str) -> Callable[[Path], None]:
    return lambda directory: (directory / name).write_text(text, encoding="utf-8")


def _duplicate_record(sobject: str, index: int) -> Callable[[Path], None]:
    return lambda directory: _rewrite(directory, sobject, lambda records: records.append(dict(records[index])))


MALFORMED = {  # what is wrong -> (how to break the snapshot, words the error must contain)
    "unreadable JSON": (_write_text("Order.json", '[\n  {"Id": "801"\n'), ["Order.json", "line 3, column 1"]),
    "not an array": (_write_text("Account.json", '{"Id": "001000000000001AAA"}'),
                     ["Account.json", "expected a JSON array", "object"]),
    "record not an object": (lambda d: _rewrite(d, "Contact", lambda records: records.insert(1, 42)),
                             ["Contact.json", "record 1", "number, not an object"]),
    "unknown object file": (_write_text("Widget__c.json", "[]"), ["Widget__c.json", "unknown object file name"]),
    "unknown field": (_set_field("Order", 3, "Colour__c", "red"), ["Order.json", "record 3 (Id 801", "Colour__c"]),
    "wrong type": (_set_field("OrderItem", 2, "Quantity", "two"), ["OrderItem.json", "record 2 (Id 802", "Quantity"]),
    "dangling reference": (_set_field("OrderItem", 0, "OrderId", "801000000000999AAA"),
                           ["OrderItem.json", "record 0 (Id 802", "OrderId", "801000000000999AAA"]),
    "bad id": (_set_field("Account", 1, "Id", "003000000000001AAA"), ["Account.json", "record 1", "Id"]),
    "duplicate id": (_duplicate_record("Product2", 0), ["Product2.json", "duplicate Id"]),
}


@pytest.mark.parametrize("problem", list(MALFORMED))
def test_malformed_snapshots_name_file_and_record_and_load_nothing(
    problem: str, small_org: Org, snapshot_dir: Path, sandbox: SalesforceSandbox
) -> None:
    previous = {"Account": small_org["Account"][:3]}
    sandbox.replace_org(previous)
    breaks, words = MALFORMED[problem]
    breaks(snapshot_dir)
    with pytest.raises(SnapshotError) as raised:
        load_snapshot_into(sandbox, snapshot_dir)
    for word in words:
        assert word in str(raised.value)
    assert without_attributes(sandbox.export_org())["Account"] == previous["Account"]
    assert sum(map(len, sandbox.export_org().values())) == 3


def test_a_missing_or_empty_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="not a snapshot folder"):
        read_snapshot(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SnapshotError, match="no <SObject>.json files"):
        read_snapshot(tmp_path / "empty")


def test_unknown_objects_are_not_written(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="Widget__c"):
        write_snapshot({"Widget__c": []}, tmp_path)
