"""`StripeResource`: a `stripe.StripeClient` against Stripe, another API base, or the embedded Stripe sandbox.

The key comes only from the environment (`STRIPE_API_KEY`, through `dagster.EnvVar`). `STRIPE_API_BASE` points the
client at another API base (a proxy, or `sf-stripe-pipeline sandbox serve`). With no key, the client talks to the
sandbox under `$SF_STRIPE_HOME/sandbox/stripe` in process.
"""

from __future__ import annotations

import dagster as dg
import stripe

from sf_stripe_pipeline import home
from sf_stripe_pipeline.sandbox.stripe import StripeSandbox


class StripeResource(dg.ConfigurableResource):
    """A Stripe API client. Unconfigured, it is the embedded sandbox."""

    api_key: str | None = None
    api_base: str | None = None
    max_network_retries: int = 3
    """Set explicitly: a bare StripeClient retries nothing. Retries reuse the request's idempotency key."""
    sandbox_dir: str | None = None
    """The embedded sandbox's folder; default `$SF_STRIPE_HOME/sandbox/stripe`."""

    @property
    def uses_sandbox(self) -> bool:
        return not self.api_key

    def get_client(self) -> stripe.StripeClient:
        if self.uses_sandbox:
            sandbox = StripeSandbox(self.sandbox_dir or home.stripe_sandbox_dir())
            return sandbox.client(max_network_retries=self.max_network_retries)
        base_addresses = {"api": self.api_base} if self.api_base else {}
        return stripe.StripeClient(
            self.api_key, base_addresses=base_addresses, max_network_retries=self.max_network_retries
        )
