"""`StripeResource`: a `stripe.StripeClient` against Stripe, another API base, or the embedded Stripe sandbox.

The key comes only from the environment (`STRIPE_API_KEY`, through `dagster.EnvVar`). `STRIPE_API_BASE` points the
client at another API base (a proxy, or `sf-stripe-pipeline sandbox serve`). With no key, the client talks to the
sandbox under `$SF_STRIPE_HOME/sandbox/stripe` in process.

Every client is paced by a `RequestPacer` (stripe/limiter.py) shared by all the threads using it, at the sync
config's `stripe.requests_per_second`, by default Stripe's documented limit for the key's mode.
"""

from __future__ import annotations

import dagster as dg
import stripe

from sf_stripe_pipeline import home
from sf_stripe_pipeline.core.config import StripeConfig
from sf_stripe_pipeline.sandbox.stripe import API_BASE, SANDBOX_API_KEY, StripeSandbox
from sf_stripe_pipeline.sandbox.transport import in_process_session
from sf_stripe_pipeline.stripe.limiter import PacedHTTPClient, RequestPacer, default_concurrency, default_rate
from sf_stripe_pipeline.stripe.writes import ExecutionSettings


class StripeResource(dg.ConfigurableResource):
    """A Stripe API client. Unconfigured, it is the embedded sandbox."""

    api_key: str | None = None
    api_base: str | None = None
    max_network_retries: int = 1
    """stripe-python's own quick retry inside one call (connection errors, 409, 5xx, `Stripe-Should-Retry`), reusing
    the request's idempotency key; the run retries further with its own backoff and budget (stripe/retry.py), and
    turns this off while Stripe keeps failing."""
    sandbox_dir: str | None = None
    """The embedded sandbox's folder; default `$SF_STRIPE_HOME/sandbox/stripe`."""

    @property
    def uses_sandbox(self) -> bool:
        return not self.api_key

    @property
    def target(self) -> str:
        """Which Stripe this client writes to, without its secret: the embedded sandbox's folder, or the key's mode
        (`sk_test`, `rk_live`...) at its API base."""
        if self.uses_sandbox:
            return f"sandbox:{self.sandbox_dir or home.stripe_sandbox_dir()}"
        mode = "_".join(self.api_key.split("_")[:2]) if self.api_key else ""
        return f"{mode}@{self.api_base or 'https://api.stripe.com'}"

    def requests_per_second(self, config: StripeConfig) -> float:
        """The configured rate, else Stripe's documented limit for the key's mode (the sandbox is test mode)."""
        return config.requests_per_second or default_rate(self.api_key or SANDBOX_API_KEY)

    def execution_settings(self, config: StripeConfig) -> ExecutionSettings:
        rate = self.requests_per_second(config)
        return ExecutionSettings(
            concurrency=config.concurrency or default_concurrency(rate),
            max_attempts=config.max_attempts,
            retry_budget_seconds=config.retry_budget_seconds,
        )

    def get_client(self, config: StripeConfig | None = None) -> stripe.StripeClient:
        """A client paced at `config`'s rate (default: the key mode's), shared by the threads that use it."""
        pacer = RequestPacer(self.requests_per_second(config or StripeConfig()))
        if self.uses_sandbox:
            sandbox = StripeSandbox(self.sandbox_dir or home.stripe_sandbox_dir())
            inner: stripe.HTTPClient = stripe.RequestsClient(session=in_process_session(sandbox))
            return stripe.StripeClient(
                SANDBOX_API_KEY,
                base_addresses={"api": API_BASE},
                http_client=PacedHTTPClient(inner, pacer),
                max_network_retries=self.max_network_retries,
            )
        base_addresses = {"api": self.api_base} if self.api_base else {}
        return stripe.StripeClient(
            self.api_key,
            base_addresses=base_addresses,
            http_client=PacedHTTPClient(stripe.RequestsClient(), pacer),
            max_network_retries=self.max_network_retries,
        )
