"""What a Stripe failure means for the request that got it, and how long a run keeps retrying.

stripe-python retries inside one call what Stripe marks as retryable (`Stripe-Should-Retry: true`, 409, 5xx,
dropped connections), reusing the idempotency key, with a short backoff (`max_network_retries`). It does not retry
a 429 `rate_limit` without the header, and its backoff knows nothing of the run. So on top of it:

- `TRANSIENT` (429 `rate_limit` or `lock_timeout`, 5xx before execution, 409 `idempotency_key_in_use`, connection
  errors): retried with exponential backoff and jitter, honouring `Retry-After`, up to `max_attempts`, while the
  run's retry budget lasts;
- `OUTCOME_UNKNOWN` (a 500 Stripe saved under the key after the request executed, replayed to every retry for 24 h,
  marked `Stripe-Should-Retry: false`) and `KEY_CONFLICT` (`idempotency_error`: the key was used with other
  parameters): retrying the same key cannot help; the object is looked up and adopted, else sent with a new key;
- `REJECTED` (other 4xx: the data is wrong): terminal until the Salesforce record changes;
- `FATAL` (401, 403: the key is wrong or lacks permissions): no request of the run can succeed; the run stops.

The retry budget (`stripe.retry_budget_seconds`) measures how long Stripe has answered nothing but transient
failures. Sporadic 429s among successes never spend it; a dead API spends it once, and from then on the run
records every operation not done as failed instead of waiting (issue 10: a run once spent 882 s on a dead API).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from enum import Enum
from typing import Any, TypeVar

import stripe

from sf_stripe_pipeline.stripe.objects import service

T = TypeVar("T")

INITIAL_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 30.0
MAX_RETRY_AFTER_SECONDS = 60.0


class Verdict(Enum):
    TRANSIENT = "transient"
    OUTCOME_UNKNOWN = "outcome_unknown"
    KEY_CONFLICT = "key_conflict"
    REJECTED = "rejected"
    FATAL = "fatal"


def _header(error: stripe.StripeError, name: str) -> str | None:
    headers = error.headers or {}
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def classify(error: stripe.StripeError) -> Verdict:
    if isinstance(error, stripe.APIConnectionError):
        return Verdict.TRANSIENT
    if isinstance(error, stripe.AuthenticationError | stripe.PermissionError):
        return Verdict.FATAL
    if isinstance(error, stripe.IdempotencyError):
        return Verdict.TRANSIENT if error.code == "idempotency_key_in_use" else Verdict.KEY_CONFLICT
    status = error.http_status or 0
    if status == 429 or status == 409:
        return Verdict.TRANSIENT
    if status >= 500:
        replayed = _header(error, "Idempotent-Replayed") == "true"
        if replayed or _header(error, "Stripe-Should-Retry") == "false":
            return Verdict.OUTCOME_UNKNOWN
        return Verdict.TRANSIENT
    return Verdict.REJECTED


def backoff_seconds(attempt: int, error: stripe.StripeError | None = None) -> float:
    """Exponential backoff with jitter (50-100 %) after the `attempt`-th failure; a `Retry-After` header wins when
    it asks for longer."""
    delay = min(MAX_BACKOFF_SECONDS, INITIAL_BACKOFF_SECONDS * 2 ** (attempt - 1))
    delay *= 0.5 + random.random() / 2
    retry_after = _header(error, "Retry-After") if error is not None else None
    if retry_after:
        try:
            delay = max(delay, min(MAX_RETRY_AFTER_SECONDS, float(retry_after)))
        except ValueError:
            pass
    return delay


def one_line(error: BaseException) -> str:
    """An error as one line, naming Stripe's code when it has one."""
    if isinstance(error, stripe.StripeError):
        message = error.user_message or str(error) or type(error).__name__
        code = f" [{error.code}]" if error.code else ""
        text = f"{message}{code}"
    else:
        text = str(error) or type(error).__name__
    return " ".join(text.split())


class RetryBudget:
    """How long a run may keep retrying while Stripe answers only transient failures; thread-safe.

    The clock starts at a transient failure and stops at the next success; once the failing stretch lasts
    `seconds`, the budget is spent for the rest of the run."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic):
        self.seconds = seconds
        self._clock = clock
        self._failing_since: float | None = None
        self._spent = False
        self._lock = threading.Lock()
        self.stop = threading.Event()
        """Set when the budget is spent or the run is stopping: waits end at once."""

    def succeeded(self) -> None:
        with self._lock:
            if not self._spent:
                self._failing_since = None

    def failed(self) -> None:
        with self._lock:
            if self._failing_since is None:
                self._failing_since = self._clock()

    @property
    def failing(self) -> bool:
        """Whether Stripe's last answer to a write was a transient failure."""
        with self._lock:
            return self._failing_since is not None

    @property
    def spent(self) -> bool:
        with self._lock:
            if not self._spent and self._failing_since is not None:
                self._spent = self._clock() - self._failing_since >= self.seconds
            if self._spent:
                self.stop.set()
            return self._spent or self.stop.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`, less when the budget runs out first or the run stops; False if it stopped."""
        with self._lock:
            remaining = (
                self.seconds - (self._clock() - self._failing_since) if self._failing_since is not None else seconds
            )
        self.stop.wait(max(0.0, min(seconds, remaining)))
        return not self.spent


class RetryingReader:
    """Stripe reads (list, search, retrieve) retried on transient failures like the writes, within the same
    budget: a rate-limited or briefly failing read does not fail the run."""

    def __init__(self, client: stripe.StripeClient, budget: RetryBudget | None = None, max_attempts: int = 6):
        self.client = client
        self.budget = budget or RetryBudget(120.0)
        self.max_attempts = max_attempts

    def call(self, request: Callable[[], T]) -> T:
        tries = 0
        while True:
            tries += 1
            try:
                result = request()
            except stripe.StripeError as error:
                if classify(error) is not Verdict.TRANSIENT or tries >= self.max_attempts:
                    raise
                self.budget.failed()
                if not self.budget.wait(backoff_seconds(tries, error)):
                    raise
                continue
            self.budget.succeeded()
            return result

    def list(self, stripe_object: str, params: dict[str, Any]) -> Any:
        return self.call(lambda: service(self.client, stripe_object).list(params))

    def search(self, stripe_object: str, params: dict[str, Any]) -> Any:
        return self.call(lambda: service(self.client, stripe_object).search(params))

    def retrieve(self, stripe_object: str, stripe_id: str) -> Any:
        return self.call(lambda: service(self.client, stripe_object).retrieve(stripe_id))
