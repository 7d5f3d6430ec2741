"""Where the project keeps its local state: `$SF_STRIPE_HOME`, default `./.sf_stripe/`.

    $SF_STRIPE_HOME/
      sandbox/salesforce/   the Salesforce sandbox's records and request log
      sandbox/stripe/       the Stripe sandbox's objects, idempotency keys and request log
      warehouse.duckdb      extracted Salesforce tables, plans and sync records
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV_VAR = "SF_STRIPE_HOME"


def state_home() -> Path:
    return Path(os.environ.get(HOME_ENV_VAR) or ".sf_stripe").resolve()


def salesforce_sandbox_dir(home: Path | None = None) -> Path:
    return (home or state_home()) / "sandbox" / "salesforce"


def stripe_sandbox_dir(home: Path | None = None) -> Path:
    return (home or state_home()) / "sandbox" / "stripe"


def warehouse_path(home: Path | None = None) -> Path:
    return (home or state_home()) / "warehouse.duckdb"


CONFIG_ENV_VAR = "SF_STRIPE_CONFIG"


def config_path() -> Path:
    """The sync config file: `$SF_STRIPE_CONFIG`, else `./sf_stripe.yaml`."""
    return Path(os.environ.get(CONFIG_ENV_VAR) or "sf_stripe.yaml").resolve()
