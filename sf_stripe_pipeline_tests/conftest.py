"""Session-wide test settings.

The pipeline's Dagster definitions read the sync config when they load, so the whole test session uses one config
file (`sync_config.yaml` here) unless `SF_STRIPE_CONFIG` is already set. Each test gets its own `SF_STRIPE_HOME`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

TEST_CONFIG = Path(__file__).parent / "sync_config.yaml"
os.environ.setdefault("SF_STRIPE_CONFIG", str(TEST_CONFIG))


@pytest.fixture(autouse=True)
def _isolated_state_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test touches ./.sf_stripe: every test has a fresh state home unless it sets its own."""
    home = tmp_path_factory.mktemp("sf_stripe_home")
    monkeypatch.setenv("SF_STRIPE_HOME", str(home))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    return home
