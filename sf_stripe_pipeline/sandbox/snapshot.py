"""Org snapshots: a folder with one `<SObject>.json` per object, each a JSON array of REST-shaped records.

Why a folder of plain JSON: a snapshot is how a user brings their own org shape to the sandbox (export a
few records from a real org, edit them by hand, load them), and how a demo org is kept next to a bug
report. One file per object keeps diffs readable (one record per line) and lets a file's name say which
object its records are, so the loader's errors can point at the file and the record to fix.

Loading is all or nothing: the sandbox's `replace_org` validates every record before it writes any.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sf_stripe_pipeline.sandbox.salesforce import OrgRecordError, SalesforceSandbox
from sf_stripe_pipeline.salesforce.catalogue import SOBJECTS

Org = dict[str, list[dict[str, Any]]]
SNAPSHOT_SUFFIX = ".json"


class SnapshotError(ValueError):
    """A snapshot that cannot be read or loaded; the message names the file and, where known, the record."""


def snapshot_file(directory: str | Path, sobject: str) -> Path:
    return Path(directory) / f"{sobject}{SNAPSHOT_SUFFIX}"


def write_snapshot(org: Mapping[str, Sequence[Mapping[str, Any]]], directory: str | Path) -> list[Path]:
    """Write `org` into `directory` (created if needed), one file per object; returns the files written.

    Snapshot files of objects absent from `org` are removed, so the folder holds exactly this org.
    """
    directory = Path(directory)
    unknown = sorted(set(org) - set(SOBJECTS))
    if unknown:
        raise SnapshotError(f"cannot write a snapshot of unknown object(s) {unknown}; see objects.SOBJECTS")
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for sobject in SOBJECTS:
        path = snapshot_file(directory, sobject)
        if sobject not in org:
            path.unlink(missing_ok=True)
            continue
        lines = ",\n".join(json.dumps(record, ensure_ascii=False) for record in org[sobject])
        partial = path.with_suffix(".json.partial")
        partial.write_text(f"[\n{lines}\n]\n" if lines else "[]\n", encoding="utf-8")
        os.replace(partial, path)  # a reader never sees half a file
        written.append(path)
    return written


def read_snapshot(directory: str | Path) -> Org:
    """The org in `directory`, objects in dependency order. Raises SnapshotError naming the file and record."""
    directory = Path(directory)
    if not directory.is_dir():
        raise SnapshotError(f"{directory}: not a snapshot folder (it does not exist or is not a directory)")
    files = sorted(path for path in directory.iterdir() if path.suffix == SNAPSHOT_SUFFIX)
    if not files:
        raise SnapshotError(f"{directory}: no <SObject>{SNAPSHOT_SUFFIX} files; nothing to load")
    records_by_object = {}
    for path in files:
        if path.stem not in SOBJECTS:
            raise SnapshotError(
                f"{path}: unknown object file name {path.name!r}; expected <SObject>{SNAPSHOT_SUFFIX} with "
                f"one of: {', '.join(SOBJECTS)}"
            )
        records_by_object[path.stem] = _read_records(path)
    return {sobject: records_by_object[sobject] for sobject in SOBJECTS if sobject in records_by_object}


def _read_records(path: Path) -> list[dict[str, Any]]:
    try:
        records = json.loads(path.read_bytes())
    except json.JSONDecodeError as problem:
        raise SnapshotError(
            f"{path}: not valid JSON at line {problem.lineno}, column {problem.colno}: {problem.msg}"
        ) from None
    except UnicodeDecodeError as problem:
        raise SnapshotError(f"{path}: not UTF-8 text ({problem.reason} at byte {problem.start})") from None
    if not isinstance(records, list):
        raise SnapshotError(f"{path}: expected a JSON array of records, got a JSON {_json_kind(records)}")
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise SnapshotError(f"{path}: record {index} is a JSON {_json_kind(record)}, not an object")
    return records


def _json_kind(value: Any) -> str:
    kinds = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return kinds.get(type(value), "null")


def load_snapshot_into(sandbox: SalesforceSandbox, directory: str | Path) -> dict[str, int]:
    """Replace the sandbox's org with the snapshot in `directory`; returns counts per object.

    On any error (SnapshotError) the sandbox keeps its previous org.
    """
    org = read_snapshot(directory)
    try:
        return sandbox.replace_org(org)
    except OrgRecordError as problem:
        where = f"record {problem.index} (Id {problem.record_id or 'missing'})" if problem.index is not None else ""
        raise SnapshotError(
            f"{snapshot_file(directory, problem.sobject)}: {where}{': ' if where else ''}{problem.reason}"
        ) from problem
