"""The slow tier's list in conftest.py names things that exist, so a renamed test cannot slip into the fast loop."""

from __future__ import annotations

import ast

import pytest

from sf_stripe_pipeline_tests.conftest import E2E, TESTS_DIR, is_e2e


def _test_functions(module: str) -> set[str]:
    tree = ast.parse((TESTS_DIR / module).read_text())
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


@pytest.mark.parametrize("entry", E2E)
def test_every_slow_tier_entry_names_an_existing_folder_module_or_test(entry: str) -> None:
    module, _, test = entry.partition("::")
    if module.endswith("/"):
        assert (TESTS_DIR / module).is_dir(), f"{entry}: no such folder under {TESTS_DIR.name}/"
        return
    assert (TESTS_DIR / module).is_file(), f"{entry}: no such module under {TESTS_DIR.name}/"
    if test:
        assert test in _test_functions(module), f"{entry}: {module} has no test {test}"


def test_entries_match_folders_modules_and_single_tests_only() -> None:
    assert is_e2e("pipeline/test_checks.py::test_rejections_and_the_plan_are_tables")
    assert not is_e2e("pipeline_extra/test_x.py::test_y")  # a folder entry is not a name prefix
    assert is_e2e("bad_data/test_corpus.py::test_each_bad_order")
    assert not is_e2e("bad_data/test_config_files.py::test_a_missing_file_is_one_line_too")
    assert is_e2e("sandbox_stripe/test_faults.py::test_fail_after_writes_counts_across_processes")
    assert not is_e2e("sandbox_stripe/test_faults.py::test_fail_after_writes_counts_across_processes_too")
    assert not is_e2e("sandbox_stripe/test_faults.py::test_lock_timeout_is_retried_by_the_sdk")
