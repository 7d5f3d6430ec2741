"""The scenario README's table stays current: one row per case folder, with the features and status (pass, or the
`xfail` reason) its scenario.yaml gives, and the README names no machine-specific path."""

from __future__ import annotations

import re
from pathlib import Path

from sf_stripe_pipeline_tests.scenarios.runner import case_folders, read_header

README = Path(__file__).parent / "README.md"
ROW = re.compile(r"^\| `(?P<name>\w+)`[^|]* \| (?P<features>[^|]*) \| (?P<status>[^|]*) \|$", re.MULTILINE)


def _rows() -> dict[str, tuple[str, str]]:
    rows: dict[str, tuple[str, str]] = {}
    for row in ROW.finditer(README.read_text(encoding="utf-8")):
        assert row["name"] not in rows, f"README.md lists {row['name']} twice"
        rows[row["name"]] = (row["features"].strip(), row["status"].strip())
    return rows


def _expected_row(folder: Path) -> str:
    header = read_header(folder)
    return f"| `{folder.name}` | {' '.join(header.features)} | {header.status} |"


def test_the_table_lists_every_case_folder_and_nothing_else() -> None:
    folders = {folder.name: folder for folder in case_folders()}
    rows = _rows()
    missing = [_expected_row(folders[name]) for name in sorted(folders.keys() - rows.keys())]
    assert not missing, "README.md's table lacks these rows; add them under their topic:\n" + "\n".join(missing)
    gone = sorted(rows.keys() - folders.keys())
    assert not gone, f"README.md lists scenarios with no folder: {gone}"


def test_each_row_has_its_scenarios_features_and_status() -> None:
    rows = _rows()
    stale = [
        _expected_row(folder)
        for folder in case_folders()
        if folder.name in rows
        and (
            set(rows[folder.name][0].split()) != set(read_header(folder).features)
            or rows[folder.name][1] != read_header(folder).status
        )
    ]
    assert not stale, "README.md's rows differ from scenario.yaml; they should read:\n" + "\n".join(stale)


def test_the_readme_names_no_machine_specific_path() -> None:
    text = README.read_text(encoding="utf-8")
    assert not re.findall(r"(?<![\w.])/(?:tmp|work|home|Users|opt)/\S*|\S*\.venv/\S*", text)
