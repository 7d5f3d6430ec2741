"""The sync config (`sf_stripe.yaml`, or `$SF_STRIPE_CONFIG`), loaded once per code-location load.

The partitions' start date comes from it, so a bad config fails `dg check defs` with a message that names the key
and the reason, before anything runs.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from sf_stripe_pipeline import home
from sf_stripe_pipeline.core.config import SyncConfig, load_config


def sync_config() -> SyncConfig:
    """The config at `home.config_path()`, loaded once per path."""
    return _load(home.config_path())


@cache
def _load(path: Path) -> SyncConfig:
    return load_config(path)
