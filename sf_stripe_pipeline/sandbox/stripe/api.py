"""The Stripe sandbox as an HTTP application: auth, routing, idempotency, faults, errors and the request log.

One request is one SQLite transaction: the idempotency check, the operation, the stored idempotent
response and the request-log row commit together, so a crash or a concurrent process never sees a
created object without its idempotency key (which would let a retry create a duplicate).

Idempotency follows Stripe's v1 rules: a POST's key saves the response once the endpoint executed, success
or a 500 `api_error` raised after execution (faults.py), and replays it, same status and body, to retries
with the same parameters; refusals before execution (validation, business rules, rate limits, injected
"before" faults) save nothing. A key is forgotten 24 hours (sandbox clock) after it was saved, after which
a request with it executes afresh. While a request with a key is in flight in this process, another request
with that key gets 409 `idempotency_key_in_use` (across processes the store's write lock serializes them,
so the second one replays instead).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import re
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import stripe
from stripe._api_version import _ApiVersion

from sf_stripe_pipeline.clock import now_timestamp
from ..transport import SandboxRequest, SandboxResponse, in_process_session
from .base import Context
from .errors import SHOULD_RETRY_HEADER, StripeApiError
from .faults import FaultConfig, FaultInjector, api_error
from .params import ParamTree, decode_form, validate
from .resources import expand, resolve_route
from .store import StoredResponse, StripeRequestRecord, StripeStore

API_BASE = "http://stripe-sandbox.local"
SANDBOX_API_KEY = "sk_test_sandbox"
IDEMPOTENCY_KEY_LIFETIME_SECONDS = 24 * 60 * 60
IDEMPOTENCY_KEY_MAX_LENGTH = 255
EXECUTED_WRITES = "executed_writes"
"""Store counter behind `FaultConfig.fail_after_writes`, shared by every process on the folder."""

_API_KEY = re.compile(r"Bearer ((?:sk|rk)_test_\w+)")
_WRITE_METHODS = frozenset({"POST", "DELETE"})


class StripeSandbox:
    """A stateful local Stripe API (the subset the pipeline uses), persisted under `root`.

    `faults` defaults to `SF_STRIPE_SANDBOX_FAULTS` (JSON of FaultConfig fields), so a sandbox opened by another
    process (the CLI, a Dagster run) can be faulted too. Raises `SandboxStateError` when `root` holds a corrupt
    or foreign store.
    """

    def __init__(self, root: str | Path, faults: FaultConfig | None = None):
        self.root = Path(root)
        self._store = StripeStore(self.root)
        self._faults = FaultInjector(faults if faults is not None else FaultConfig.from_env())
        self._keys_in_flight: set[str] = set()
        self._keys_lock = threading.Lock()

    @staticmethod
    def discard_state(root: str | Path) -> None:
        """Delete a sandbox folder's store without opening it: the way back from a `SandboxStateError`."""
        StripeStore.discard(Path(root))

    def handle(self, request: SandboxRequest) -> SandboxResponse:
        request_id = f"req_{secrets.token_urlsafe(10)}"
        faults = self._faults  # one configuration for the whole request, even if reconfigured meanwhile
        idempotency_key = request.header("Idempotency-Key") if request.method == "POST" else None
        headers = {"Content-Type": "application/json", "Request-Id": request_id, "Stripe-Version": _ApiVersion.CURRENT}
        with self._claim(idempotency_key) as claimed:
            faults.delay(request.path)  # outside the store's lock, so concurrent requests overlap as with Stripe
            status, body, headers = self._respond(request, request_id, idempotency_key, claimed, faults, headers)
        return SandboxResponse(status, body, headers)

    def _respond(
        self,
        request: SandboxRequest,
        request_id: str,
        idempotency_key: str | None,
        claimed: bool,
        faults: FaultInjector,
        headers: dict[str, str],
    ) -> tuple[int, bytes, dict[str, str]]:
        """One request in one store transaction, logged whatever its outcome."""
        with self._store.transaction():
            params: ParamTree = {}
            try:
                if not claimed:
                    raise _key_in_use(idempotency_key or "")
                params = decode_form(_parameter_pairs(request))
                status, body, extra_headers = self._answer(request, params, idempotency_key, request_id, faults)
                headers |= extra_headers
            except StripeApiError as error:
                status, body = error.status, _json(error.to_body())
                headers |= error.headers
            self._store.log_request(request.method, request.path, params, idempotency_key, status, request_id)
        return status, body, headers

    def client(self, api_key: str = SANDBOX_API_KEY, max_network_retries: int = 0) -> stripe.StripeClient:
        """A real stripe-python client wired to this sandbox in process."""
        return stripe.StripeClient(
            api_key,
            base_addresses={"api": API_BASE},
            http_client=stripe.RequestsClient(session=in_process_session(self)),
            max_network_retries=max_network_retries,
        )

    def configure_faults(self, faults: FaultConfig | None) -> None:
        """Switch faults for this instance; restarts the `fail_after_writes` count."""
        self._faults = FaultInjector(faults)
        self._store.reset_counter(EXECUTED_WRITES)

    @property
    def faults(self) -> FaultConfig:
        return self._faults.config

    def reset(self) -> None:
        """Empty all objects, idempotency keys, the request log and the fault counters."""
        self._store.reset()

    def request_log(self) -> list[StripeRequestRecord]:
        """Every request since the last reset, oldest first (persisted: other processes' requests count too)."""
        return self._store.request_log()

    def write_count(self) -> int:
        """How many of those requests were writes."""
        return self._store.write_count()

    def clear_request_log(self) -> None:
        self._store.clear_request_log()

    def close(self) -> None:
        self._store.close()

    @contextlib.contextmanager
    def _claim(self, idempotency_key: str | None) -> Iterator[bool]:
        """Mark a key in flight for the request's duration; False when another request holds it."""
        if not idempotency_key:
            yield True
            return
        with self._keys_lock:
            if idempotency_key in self._keys_in_flight:
                claimed = False
            else:
                self._keys_in_flight.add(idempotency_key)
                claimed = True
        try:
            yield claimed
        finally:
            if claimed:
                with self._keys_lock:
                    self._keys_in_flight.discard(idempotency_key)

    def _answer(
        self,
        request: SandboxRequest,
        params: ParamTree,
        idempotency_key: str | None,
        request_id: str,
        faults: FaultInjector,
    ) -> tuple[int, bytes, dict[str, str]]:
        _authenticate(request)
        is_write = request.method in _WRITE_METHODS
        counting = is_write and faults.config.fail_after_writes is not None
        executed_writes = self._store.counter(EXECUTED_WRITES) if counting else None
        faults.check_before_execution(request.path, is_write, executed_writes)
        route = resolve_route(request.method, request.path)
        fingerprint = hashlib.sha256(_json([request.method, request.path, params])).hexdigest()
        now = now_timestamp()
        if idempotency_key:
            replay = self._replay(idempotency_key, fingerprint, now)
            if replay is not None:
                return replay
        # Refused requests (validation or a business rule) store nothing and leave no partial writes.
        typed_params = validate(params, route.params_cls)
        ctx = Context(self._store, now, faults.config.search_lag_seconds)
        with self._store.savepoint():
            result = getattr(route.resource, route.operation)(ctx, route.object_id, typed_params)
            body = _json(expand(ctx, result, typed_params.get("expand", [])))
        if counting:
            self._store.increment(EXECUTED_WRITES)
        status, extra_headers = 200, {}
        if request.method == "POST" and faults.fails_after_execution(request.path):
            failure = api_error("Injected fault: error_after_execution (the request was executed).", False)
            status, body, extra_headers = failure.status, _json(failure.to_body()), failure.headers
        if not idempotency_key:
            return status, body, extra_headers
        self._store.store_response(idempotency_key, StoredResponse(fingerprint, status, body, request_id, now))
        return status, body, extra_headers | {"Idempotency-Key": idempotency_key}

    def _replay(self, key: str, fingerprint: str, now: int) -> tuple[int, bytes, dict[str, str]] | None:
        """The saved answer for a retry with `key`, or None when the key is new or has expired (24 h)."""
        if len(key) > IDEMPOTENCY_KEY_MAX_LENGTH:
            raise StripeApiError(
                f"Idempotency keys can be at most {IDEMPOTENCY_KEY_MAX_LENGTH} characters long; this one has "
                f"{len(key)}.",
                param="Idempotency-Key",
            )
        stored = self._store.stored_response(key)
        if stored is None or now - stored.created >= IDEMPOTENCY_KEY_LIFETIME_SECONDS:
            return None
        if stored.fingerprint != fingerprint:
            raise StripeApiError(
                "Keys for idempotent requests can only be used with the same parameters they were first used "
                f"with. Try using a key other than '{key}' if you meant to execute a different request.",
                error_type="idempotency_error",
            )
        headers = {"Idempotent-Replayed": "true", "Original-Request": stored.request_id, "Idempotency-Key": key}
        if stored.status >= 500:
            headers[SHOULD_RETRY_HEADER] = "false"  # the same key replays the same 500
        return stored.status, stored.body, headers


def _key_in_use(key: str) -> StripeApiError:
    return StripeApiError(
        "There is currently another in-progress request using this Idempotent Key (that probably means you "
        f"submitted twice, and the other request is still going through): {key}. Please try again later.",
        status=409,
        error_type="idempotency_error",
        code="idempotency_key_in_use",
        should_retry=True,
    )


def _bearer(authorization: str) -> str:
    """Stripe takes the key as Bearer auth or as the user of Basic auth (`curl -u sk_test_...:`)."""
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "basic":
        try:
            user = base64.b64decode(credentials, validate=True).decode("utf-8").partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            return authorization
        return f"Bearer {user}"
    return authorization


def _authenticate(request: SandboxRequest) -> None:
    authorization = _bearer(request.header("Authorization") or "")
    if not authorization:
        raise StripeApiError(
            "You did not provide an API key. You need to provide your API key in the Authorization header, using "
            "Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
            status=401,
        )
    if not _API_KEY.fullmatch(authorization):
        shown = authorization.removeprefix("Bearer ")[:12]
        raise StripeApiError(
            f"Invalid API Key provided: {shown}****. The sandbox accepts test keys only (sk_test_... or rk_test_...).",
            status=401,
        )


def _parameter_pairs(request: SandboxRequest) -> list[tuple[str, str]]:
    """stripe-python sends GET and DELETE parameters in the query string, POST parameters in the body."""
    if request.method == "POST":
        return parse_qsl(request.body.decode("utf-8"), keep_blank_values=True)
    return [(key, value) for key, values in request.query.items() for value in values]


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("utf-8")
