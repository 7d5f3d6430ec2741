"""The sandboxes' notion of "now".

Stripe derives schedule status from the current time, and Salesforce stamps `SystemModstamp` on every
write. Tests and demos pin the clock with `SF_STRIPE_SANDBOX_NOW` (an ISO date or datetime, UTC) so
results do not depend on the day they run; unset, the sandboxes use the wall clock.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, date, datetime

NOW_ENV_VAR = "SF_STRIPE_SANDBOX_NOW"


def parse_instant(text: str) -> datetime:
    """Parse an ISO date (`2025-03-10`, midnight UTC) or datetime (naive means UTC)."""
    text = text.strip()
    if len(text) == 10:
        parsed_date = date.fromisoformat(text)
        return datetime(parsed_date.year, parsed_date.month, parsed_date.day, tzinfo=UTC)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def now() -> datetime:
    """The current instant, timezone-aware UTC, honouring `SF_STRIPE_SANDBOX_NOW`."""
    pinned = os.environ.get(NOW_ENV_VAR)
    if pinned:
        return parse_instant(pinned)
    return datetime.now(UTC)


def now_timestamp() -> int:
    """The current instant as whole Unix seconds (Stripe's `created` and timestamps)."""
    pinned = os.environ.get(NOW_ENV_VAR)
    if pinned:
        return int(parse_instant(pinned).timestamp())
    return int(time.time())
