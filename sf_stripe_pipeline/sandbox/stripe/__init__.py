"""A stateful local Stripe API for the pipeline's tests and demos, reached by the real stripe-python client.

    sandbox = StripeSandbox(stripe_sandbox_dir())
    client = sandbox.client()                      # in process
    with serve(sandbox) as server: ...             # or over loopback HTTP at server.url

It speaks Stripe's wire format (form-encoded requests, JSON objects and errors, `Request-Id`,
idempotency replay), validates parameters against stripe-python's own TypedDicts for the pinned API
version, persists to SQLite (safe across threads and processes) and can inject rate limits, errors and
latency (`FaultConfig`).
"""

from __future__ import annotations

from .api import API_BASE, SANDBOX_API_KEY, StripeSandbox
from .faults import FaultConfig
from .store import StripeRequestRecord

__all__ = ["API_BASE", "SANDBOX_API_KEY", "FaultConfig", "StripeRequestRecord", "StripeSandbox"]
