"""A stateful local Stripe API for the pipeline's tests and demos, reached by the real stripe-python client.

    sandbox = StripeSandbox(stripe_sandbox_dir())
    client = sandbox.client()                      # in process
    with serve(sandbox) as server: ...             # or over loopback HTTP at server.url

It speaks Stripe's wire format (form-encoded requests, JSON objects and errors, `Request-Id`,
idempotency replay), validates parameters against stripe-python's own TypedDicts for the pinned API
version and Stripe's documented limits, persists to SQLite (safe across threads and processes) and can
inject rate limits, lock timeouts, both kinds of 500, latency and search lag (`FaultConfig`, also from the
`SF_STRIPE_SANDBOX_FAULTS` environment variable). README.md beside this file lists what is emulated and what
knowingly differs from Stripe.
"""

from __future__ import annotations

from .api import API_BASE, SANDBOX_API_KEY, StripeSandbox
from .faults import FAULTS_ENV_VAR, FaultConfig
from .store import SandboxStateError, StripeRequestRecord

__all__ = [
    "API_BASE",
    "FAULTS_ENV_VAR",
    "SANDBOX_API_KEY",
    "FaultConfig",
    "SandboxStateError",
    "StripeRequestRecord",
    "StripeSandbox",
]
