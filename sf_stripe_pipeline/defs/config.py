"""The sync config (`sf_stripe.yaml`, or `$SF_STRIPE_CONFIG`), loaded once per code-location load.

The partitions' start date comes from it, so a bad config fails `dg check defs` with a message that names the key
and the reason, before anything runs.
"""

from __future__ import annotations

from functools import cache

from sf_stripe_pipeline import home
from sf_stripe_pipeline.sync.config import SyncConfig, load_config


@cache
def sync_config() -> SyncConfig:
    return load_config(home.config_path())
