"""Injected failures, so the pipeline's re-authentication, API-budget, retry and partial-write paths meet the errors
Salesforce really sends: its status codes and `[{"message", "errorCode"}]` bodies, which simple-salesforce turns into
`SalesforceExpiredSession` (401), `SalesforceRefusedRequest` (403), `SalesforceMalformedRequest` (400) and
`SalesforceGeneralError` (500). Of these, simple-salesforce retries only the 401, and only when it logged in itself
(it then logs in again); everything else is the caller's to handle.

Faults are per sandbox instance and never persisted. A test sets them on one `SalesforceSandbox`; a child process
(a CLI run) gets them from `SF_STRIPE_SALESFORCE_FAULTS`, a JSON object of `FaultConfig` fields read when a sandbox
is constructed without explicit faults, e.g. `{"session_expires_after_requests": 5, "lock_row_rate": 0.1}`.
Request-level faults (401, 403, 500) refuse the request before the endpoint runs, so nothing was written and a retry
is safe; record-level ones (UNABLE_TO_LOCK_ROW) fail one record of a write, as Salesforce does.
"""

from __future__ import annotations

import json
import os
import random
import threading
from collections import Counter
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from sf_stripe_pipeline import clock
from sf_stripe_pipeline.sandbox.salesforce.ids import to_18
from sf_stripe_pipeline.sandbox.salesforce.store import SalesforceApiError

FAULTS_ENV_VAR = "SF_STRIPE_SALESFORCE_FAULTS"
DAILY_API_LIMIT = 15_000
"""A Developer Edition org's allowance, which the sandbox reports unless a fault sets another."""


class FaultConfigError(ValueError):
    """Fault settings that cannot be used; the message is one line naming where they came from."""


class FaultConfig(BaseModel):
    """Which failures a sandbox injects. Every field defaults to "never"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    session_expires_after_requests: int | None = Field(None, ge=1)
    """Each access token answers this many API requests; from then on it gets 401 INVALID_SESSION_ID until the
    client logs in again (a new token has a fresh allowance)."""
    session_expires_at: AwareDatetime | None = None
    """From this instant of the sandbox clock (`SF_STRIPE_SANDBOX_NOW` or the wall clock), tokens issued before it,
    and tokens the sandbox did not issue (a fixed session id), get 401 INVALID_SESSION_ID; log in again."""
    daily_api_limit: int | None = Field(None, ge=1)
    """The org's daily API allowance, reported in `Sforce-Limit-Info` and `/limits` (default 15,000). Once the
    request log holds this many requests, requests get 403 REQUEST_LIMIT_EXCEEDED."""
    api_limit_applies_to: Literal["all", "reads", "writes"] = "all"
    """Which requests the exhausted allowance refuses: reads are GETs, writes are POST, PATCH, PUT and DELETE."""
    read_error_rate: float = Field(0.0, ge=0.0, le=1.0)
    """Fraction of reads answered with 500 UNKNOWN_EXCEPTION."""
    fail_after_writes: int | None = Field(None, ge=0)
    """After this many successful write requests, every write request gets 500 UNKNOWN_EXCEPTION."""
    lock_row_rate: float = Field(0.0, ge=0.0, le=1.0)
    """Fraction of record writes (each record of a composite request counts) failing with UNABLE_TO_LOCK_ROW."""
    lock_row_ids: frozenset[str] = frozenset()
    """Records (15- or 18-character ids) whose update, upsert or delete always fails with UNABLE_TO_LOCK_ROW."""
    seed: int = 0
    """Makes the rates deterministic."""

    @field_validator("lock_row_ids")
    @classmethod
    def _full_ids(cls, ids: frozenset[str]) -> frozenset[str]:
        full = {record_id: to_18(record_id) for record_id in ids}
        malformed = sorted(record_id for record_id, full_id in full.items() if full_id is None)
        if malformed:
            raise ValueError(f"not Salesforce record ids: {', '.join(malformed)}")
        return frozenset(full_id for full_id in full.values() if full_id)

    @classmethod
    def from_json(cls, text: str, source: str = FAULTS_ENV_VAR) -> FaultConfig:
        """Parse a JSON object of fault settings; raises FaultConfigError naming `source` and each problem."""
        try:
            return cls.model_validate_json(text)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in detail['loc']) or '<root>'}: {detail['msg']}"
                for detail in error.errors()
            )
            raise FaultConfigError(f"{source}: invalid Salesforce sandbox faults: {problems}") from None

    @classmethod
    def from_environment(cls) -> FaultConfig | None:
        """The faults in `SF_STRIPE_SALESFORCE_FAULTS`, or None when it is unset or blank."""
        text = os.environ.get(FAULTS_ENV_VAR, "").strip()
        return cls.from_json(text) if text else None

    def to_json(self) -> str:
        """The settings as `SF_STRIPE_SALESFORCE_FAULTS` takes them (only those that differ from the defaults)."""
        return json.dumps(self.model_dump(mode="json", exclude_defaults=True), sort_keys=True)


class FaultInjector:
    """Decides, request by request and record by record, whether a configured fault fires. Thread-safe."""

    def __init__(self, config: FaultConfig | None):
        self.config = config or FaultConfig()
        self._random = random.Random(self.config.seed)
        self._requests_by_token: Counter[str] = Counter()
        self._successful_writes = 0
        self._lock = threading.Lock()

    @property
    def daily_api_limit(self) -> int:
        return self.config.daily_api_limit or DAILY_API_LIMIT

    @property
    def counts_api_usage(self) -> bool:
        """Whether `check_request` needs the org's API usage (reading it costs a query)."""
        return self.config.daily_api_limit is not None

    def check_session(self, token: str, issued_at: datetime | None) -> None:
        """Raise 401 INVALID_SESSION_ID if this request's access token has expired; count the request against it."""
        config = self.config
        if config.session_expires_at is not None and clock.now() >= config.session_expires_at:
            if issued_at is None or issued_at < config.session_expires_at:
                raise _expired_session()
        if config.session_expires_after_requests is not None:
            with self._lock:
                if self._requests_by_token[token] >= config.session_expires_after_requests:
                    raise _expired_session()
                self._requests_by_token[token] += 1

    def check_request(self, is_write: bool, api_usage: int | None) -> None:
        """Raise the request-level fault for this request, if any. `api_usage`: requests in the log so far."""
        config = self.config
        limited = config.api_limit_applies_to == "all" or (config.api_limit_applies_to == "writes") == is_write
        if api_usage is not None and limited and api_usage >= self.daily_api_limit:
            raise SalesforceApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        with self._lock:
            if not is_write and config.read_error_rate > 0 and self._random.random() < config.read_error_rate:
                raise self._unknown_exception()
            limit = config.fail_after_writes
            if is_write and limit is not None and self._successful_writes >= limit:
                raise self._unknown_exception()

    def record_success(self, is_write: bool) -> None:
        if is_write:
            with self._lock:
                self._successful_writes += 1

    def check_record_lock(self, record_id: str | None) -> None:
        """Raise UNABLE_TO_LOCK_ROW for a record about to be written (`record_id` None for a new record)."""
        config = self.config
        locked = record_id is not None and record_id in config.lock_row_ids
        if not locked and config.lock_row_rate > 0:
            with self._lock:
                locked = self._random.random() < config.lock_row_rate
        if locked:
            which = f" or 1 records: {record_id}" if record_id else ""
            message = f"unable to obtain exclusive access to this record{which}"
            raise SalesforceApiError(400, "UNABLE_TO_LOCK_ROW", message)

    def _unknown_exception(self) -> SalesforceApiError:
        """Salesforce's answer to its own internal errors, with an ErrorId as it quotes one (call under the lock)."""
        error_id = f"{self._random.randrange(10**9, 2 * 10**9)}-{self._random.randrange(10**4, 10**5)}"
        return SalesforceApiError(
            500,
            "UNKNOWN_EXCEPTION",
            f"An unexpected error occurred. Please include this ErrorId if you contact support: {error_id} "
            f"({-self._random.randrange(10**9, 2 * 10**9)})",
        )


def _expired_session() -> SalesforceApiError:
    return SalesforceApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")
