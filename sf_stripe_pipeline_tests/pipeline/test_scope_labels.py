"""A run's later steps act on its scope by its label (`defs/sync/scope.py::window_scope_of`): the label of a window
names that window again."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from sf_stripe_pipeline.defs.sync.scope import SyncScopeConfig, resolve_scope, window_scope_of


@pytest.mark.parametrize(
    ("from_date", "to_date"), [("2025-02-01", "2025-03-10"), ("2025-03-10", "2025-03-10"), ("2025-02-28", "2025-03-01")]
)
def test_a_window_label_names_its_window(from_date: str, to_date: str) -> None:
    scope = resolve_scope(SyncScopeConfig(from_date=from_date, to_date=to_date), {}, ())
    assert window_scope_of(scope.label) == scope
    start, end = scope.window
    first, last = date.fromisoformat(from_date), date.fromisoformat(to_date)
    assert (start.date(), end.date()) == (first, last + timedelta(days=1))
