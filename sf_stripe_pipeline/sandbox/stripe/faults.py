"""Injected failures, so the pipeline's throttling, retry and resume paths meet the errors Stripe really sends.

Faults are per sandbox instance and never persisted: a test or demo switches them on for one client,
and another process opening the same folder is unaffected. Injected errors happen "before the endpoint
executes", so, as with Stripe, they store no idempotent result and a retry with the same key can succeed.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from dataclasses import dataclass

from .errors import StripeApiError


@dataclass
class FaultConfig:
    requests_per_second: float | None = None
    """Above it: 429 `{"type": "invalid_request_error", "code": "rate_limit"}`."""
    error_rate: float = 0.0
    """Fraction of requests answered with 500 api_error."""
    latency_seconds: float = 0.0
    """Added to every request."""
    fail_after_writes: int | None = None
    """After N successful writes, every write answers 500."""
    seed: int = 0
    """Makes error_rate deterministic."""


class FaultInjector:
    """Decides, request by request, whether a configured fault fires. Thread-safe."""

    def __init__(self, config: FaultConfig | None):
        self.config = config or FaultConfig()
        self._random = random.Random(self.config.seed)
        self._recent_requests: deque[float] = deque()
        self._successful_writes = 0
        self._lock = threading.Lock()

    def delay(self) -> None:
        if self.config.latency_seconds > 0:
            time.sleep(self.config.latency_seconds)

    def check(self, is_write: bool) -> None:
        """Raise the injected error for this request, if any."""
        with self._lock:
            self._check_rate_limit()
            if self.config.error_rate > 0 and self._random.random() < self.config.error_rate:
                raise _api_error("Injected fault: error_rate.")
            limit = self.config.fail_after_writes
            if is_write and limit is not None and self._successful_writes >= limit:
                raise _api_error(f"Injected fault: writes fail after {limit} successful writes.")

    def record_success(self, is_write: bool) -> None:
        if is_write:
            with self._lock:
                self._successful_writes += 1

    def _check_rate_limit(self) -> None:
        """Sliding one-second window; refused requests do not count against it, as with Stripe."""
        limit = self.config.requests_per_second
        if limit is None:
            return
        now = time.monotonic()
        while self._recent_requests and now - self._recent_requests[0] >= 1.0:
            self._recent_requests.popleft()
        if len(self._recent_requests) >= limit:
            raise StripeApiError(
                "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.",
                status=429,
                code="rate_limit",
            )
        self._recent_requests.append(now)


def _api_error(message: str) -> StripeApiError:
    return StripeApiError(message, status=500, error_type="api_error")
