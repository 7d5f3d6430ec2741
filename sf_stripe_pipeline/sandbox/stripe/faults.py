"""Injected failures, so the pipeline's throttling, retry and resume paths meet the errors Stripe really sends.

Faults belong to one sandbox instance: `StripeSandbox(root, faults=FaultConfig(...))`, `configure_faults()`, or,
for a sandbox constructed without explicit faults (a CLI run in a child process, a Dagster resource), the JSON
in `SF_STRIPE_SANDBOX_FAULTS` (`{"requests_per_second": 25, "rate_limit_error_rate": 0.3}`).

Stripe fails a request in one of two places, and the two differ for a retry with the same idempotency key:
- before the endpoint executes (rate limits, lock timeouts, most 500s): nothing happened and nothing is saved
  under the key, so a retry executes afresh;
- after it executed (a 500 `api_error` once the object was written): Stripe saves that 500 under the key and
  replays it to every retry for 24 hours, so the client must find the object another way.
`error_after_execution_rate` is the second kind; everything else here is the first.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from .errors import StripeApiError

FAULTS_ENV_VAR = "SF_STRIPE_SANDBOX_FAULTS"

RATE_LIMIT_MESSAGE = (
    "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits."
)
LOCK_TIMEOUT_MESSAGE = (
    "This object cannot be accessed right now because another API request or Stripe process is currently accessing "
    "it. If you see this error intermittently, retry the request. If you see this error frequently and are making "
    "multiple concurrent requests to a single object, make your requests serially or at a lower rate."
)


@dataclass(frozen=True)
class FaultConfig:
    requests_per_second: float | None = None
    """Above it (sliding one-second window, this sandbox instance): 429 `rate_limit`, no `Stripe-Should-Retry`."""
    rate_limit_error_rate: float = 0.0
    """Fraction of requests answered 429 `rate_limit` (no `Stripe-Should-Retry`: stripe-python does not retry)."""
    lock_timeout_rate: float = 0.0
    """Fraction of writes answered 429 `lock_timeout` with `Stripe-Should-Retry: true` (stripe-python retries)."""
    error_rate: float = 0.0
    """Fraction of requests answered 500 `api_error` before executing (`Stripe-Should-Retry: true`)."""
    error_after_execution_rate: float = 0.0
    """Fraction of POSTs that execute, then answer 500 `api_error` (`Stripe-Should-Retry: false`); the 500 is saved
    under the idempotency key and replayed to retries for 24 h of sandbox clock."""
    fail_after_writes: int | None = None
    """After N executed writes, every write answers 500 before executing. Counted in the store, so every process
    whose sandbox has this fault counts towards the same N (reset by `reset()` and `configure_faults()`)."""
    latency_seconds: float = 0.0
    """Added to every request before it touches the store, so concurrent requests overlap as with Stripe."""
    search_lag_seconds: float = 0.0
    """Search does not see objects written less than this long ago (sandbox clock, whole seconds)."""
    only_paths: tuple[str, ...] = ()
    """When set, faults (and latency) apply only to requests whose path starts with one of these prefixes."""
    seed: int = 0
    """Seeds the random draws of the `*_rate` faults, so a run is repeatable."""

    def __post_init__(self) -> None:
        for name in ("rate_limit_error_rate", "lock_timeout_rate", "error_rate", "error_after_execution_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"FaultConfig.{name} must be between 0 and 1, got {getattr(self, name)!r}")
        object.__setattr__(self, "only_paths", tuple(self.only_paths))

    @classmethod
    def from_json(cls, text: str) -> FaultConfig:
        """`{"requests_per_second": 25, "error_rate": 0.05}`: FaultConfig's fields as a JSON object."""
        values: Any = json.loads(text)
        if not isinstance(values, dict):
            raise ValueError(f"{FAULTS_ENV_VAR} must hold a JSON object of FaultConfig fields, got {text!r}")
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"{FAULTS_ENV_VAR}: unknown FaultConfig fields {unknown}; known: {sorted(known)}")
        return cls(**values)

    @classmethod
    def from_env(cls) -> FaultConfig | None:
        text = os.environ.get(FAULTS_ENV_VAR, "").strip()
        return cls.from_json(text) if text else None

    def to_json(self) -> str:
        """The value for `SF_STRIPE_SANDBOX_FAULTS` that recreates this configuration in another process."""
        return json.dumps(dataclasses.asdict(self))


class FaultInjector:
    """Decides, request by request, whether a configured fault fires. Thread-safe."""

    def __init__(self, config: FaultConfig | None):
        self.config = config or FaultConfig()
        self._random = random.Random(self.config.seed)
        self._recent_requests: deque[float] = deque()
        self._lock = threading.Lock()

    def applies_to(self, path: str) -> bool:
        return not self.config.only_paths or path.startswith(self.config.only_paths)

    def delay(self, path: str) -> None:
        if self.config.latency_seconds > 0 and self.applies_to(path):
            time.sleep(self.config.latency_seconds)

    def check_before_execution(self, path: str, is_write: bool, executed_writes: int | None) -> None:
        """Raise the injected refusal for this request, if any. `executed_writes` feeds `fail_after_writes`."""
        if not self.applies_to(path):
            return
        config = self.config
        with self._lock:
            self._check_rate_limit()
            if self._draw(config.rate_limit_error_rate):
                raise rate_limited()
            if is_write and self._draw(config.lock_timeout_rate):
                raise StripeApiError(LOCK_TIMEOUT_MESSAGE, status=429, code="lock_timeout", should_retry=True)
            if self._draw(config.error_rate):
                raise api_error("Injected fault: error_rate (before execution).", should_retry=True)
        limit = config.fail_after_writes
        if is_write and limit is not None and executed_writes is not None and executed_writes >= limit:
            raise api_error(f"Injected fault: writes fail after {limit} executed writes.", should_retry=True)

    def fails_after_execution(self, path: str) -> bool:
        if not self.applies_to(path) or self.config.error_after_execution_rate <= 0:
            return False
        with self._lock:
            return self._draw(self.config.error_after_execution_rate)

    def _draw(self, rate: float) -> bool:
        return rate > 0 and self._random.random() < rate

    def _check_rate_limit(self) -> None:
        """Sliding one-second window; refused requests do not count against it, as with Stripe."""
        limit = self.config.requests_per_second
        if limit is None:
            return
        now = time.monotonic()
        while self._recent_requests and now - self._recent_requests[0] >= 1.0:
            self._recent_requests.popleft()
        if len(self._recent_requests) >= limit:
            raise rate_limited()
        self._recent_requests.append(now)


def rate_limited() -> StripeApiError:
    """Stripe's rate-limit answer: no `Stripe-Should-Retry`, so stripe-python raises RateLimitError at once."""
    return StripeApiError(RATE_LIMIT_MESSAGE, status=429, code="rate_limit")


def api_error(message: str, should_retry: bool) -> StripeApiError:
    return StripeApiError(message, status=500, error_type="api_error", should_retry=should_retry)
