"""The client-side rate limiter: every request of a Stripe client, from any thread, waits for its turn.

Stripe allows 25 requests a second in test mode and 100 in live mode (https://docs.stripe.com/rate-limits) and
answers 429 `rate_limit` beyond that, which stripe-python does not retry. Rather than hit the limit and back off,
the client paces itself: requests start at evenly spaced instants (a token bucket holding one token), so no
one-second window ever holds more than the rate, whatever the number of threads. Pacing is at 95 % of the
configured rate: the remaining 5 % absorbs the jitter between when a request leaves and when Stripe counts it.
The SDK's own retries go through the same limiter, since they are requests too.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import stripe

TEST_MODE_RATE = 25.0
LIVE_MODE_RATE = 100.0
HEADROOM = 0.95
"""The share of the configured rate the limiter uses."""
MAX_DEFAULT_CONCURRENCY = 64


def default_rate(api_key: str | None) -> float:
    """Stripe's documented limit for the key's mode: live keys 100/s, test keys (and the sandbox) 25/s."""
    return LIVE_MODE_RATE if api_key and api_key.startswith(("sk_live_", "rk_live_")) else TEST_MODE_RATE


def default_concurrency(rate: float) -> int:
    """One request in flight per request a second the rate allows: enough at a second of latency per request."""
    return max(1, min(MAX_DEFAULT_CONCURRENCY, int(-(-rate // 1))))


class RequestPacer:
    """Hands out evenly spaced start times, `1 / (rate x HEADROOM)` seconds apart; thread-safe.

    When Stripe answers 429 `rate_limit` anyway (other clients share the account's limit), the pace drops by a
    fifth, and comes back by 2 % a request once a second has passed without one."""

    def __init__(self, requests_per_second: float):
        self.requests_per_second = requests_per_second
        self.base_interval = 1.0 / (requests_per_second * HEADROOM)
        self.interval = self.base_interval
        self._next = time.monotonic()
        self._slowed_at = float("-inf")
        self._lock = threading.Lock()
        self.waited_seconds = 0.0
        """Total time requests spent waiting for their turn (for benchmarks and run metadata)."""

    def wait_turn(self) -> None:
        with self._lock:
            now = time.monotonic()
            if self.interval > self.base_interval and now - self._slowed_at > 1.0:
                self.interval = max(self.base_interval, self.interval / 1.02)
            start = max(now, self._next)
            self._next = start + self.interval
            self.waited_seconds += start - now
        if start > now:
            time.sleep(start - now)

    def rate_limited(self) -> None:
        with self._lock:
            self.interval = min(4 * self.base_interval, self.interval * 1.25)
            self._slowed_at = time.monotonic()


class PacedHTTPClient(stripe.HTTPClient):
    """A stripe-python HTTP client that waits for the pacer before each request it sends, retries included."""

    name = "paced"

    def __init__(self, inner: stripe.HTTPClient, pacer: RequestPacer):
        super().__init__()
        self.inner = inner
        self.pacer = pacer

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[Any, int, Mapping[str, str]]:
        return self._paced(self.inner.request, method, url, headers, post_data)

    def request_stream(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[Any, int, Mapping[str, str]]:
        return self._paced(self.inner.request_stream, method, url, headers, post_data)

    def _paced(self, send: Callable[..., tuple[Any, int, Mapping[str, str]]], *args: Any) -> tuple[Any, int, Mapping[str, str]]:
        self.pacer.wait_turn()
        body, status, response_headers = send(*args)
        if status == 429 and '"rate_limit"' in (body if isinstance(body, str) else str(body)):
            self.pacer.rate_limited()
        return body, status, response_headers

    def close(self) -> None:
        self.inner.close()
