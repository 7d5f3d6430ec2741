"""The scenario orgs, one function per case folder, grouped by topic in this package's modules;
`python -m sf_stripe_pipeline_tests.scenarios.authoring` writes them as snapshots. What each scenario expects is in
its folder's expected.yaml. A new topic is a new module here, listed in `TOPICS`.

Dates follow the spec's examples: "today" is 2025-03-10 unless a scenario's steps say otherwise, and the sync
start date is 2025-01-01.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from sf_stripe_pipeline_tests.scenarios.authoring.cpq import CpqOrg

CASES: dict[str, Callable[[CpqOrg], None]] = {}
TODAY = "2025-03-10"
ACTIVATED_TODAY = "2025-03-10T09:00:00Z"
TOPICS = (
    "initial_orders", "amendments", "evergreen", "coupons", "accounts", "errors", "mdq", "money", "terminations",
    "isolation", "scope", "features",
)


def case(function: Callable[[CpqOrg], None]) -> Callable[[CpqOrg], None]:
    if function.__name__ in CASES:
        raise ValueError(f"two scenario cases are named {function.__name__}")
    CASES[function.__name__] = function
    return function


for _topic in TOPICS:
    importlib.import_module(f"{__name__}.{_topic}")
