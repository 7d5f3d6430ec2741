from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from sf_stripe_pipeline import home
from sf_stripe_pipeline import clock
from sf_stripe_pipeline.sandbox.demo_org import generate_demo_org

AS_OF = date(2025, 3, 10)
SMALL_ORDERS = 30

Org = dict[str, list[dict[str, Any]]]


def without_attributes(org: Mapping[str, Sequence[Mapping[str, Any]]]) -> Org:
    """An exported org as the generator makes it: the same records without the REST `attributes` block."""
    return {
        sobject: [{name: value for name, value in record.items() if name != "attributes"} for record in records]
        for sobject, records in org.items()
    }


@pytest.fixture(scope="session")
def small_org() -> Org:
    """Read-only: copy before changing."""
    return generate_demo_org(SMALL_ORDERS, seed=7, as_of=AS_OF)


@pytest.fixture(scope="session")
def default_org() -> Org:
    """Read-only: copy before changing."""
    return generate_demo_org(as_of=AS_OF)


@pytest.fixture
def sandbox_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """$SF_STRIPE_HOME in tmp_path, with the sandbox clock pinned to AS_OF's noon."""
    monkeypatch.setenv(home.HOME_ENV_VAR, str(tmp_path / "home"))
    monkeypatch.setenv(clock.NOW_ENV_VAR, f"{AS_OF.isoformat()}T12:00:00")
    return tmp_path / "home"
