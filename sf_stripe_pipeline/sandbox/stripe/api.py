"""The Stripe sandbox as an HTTP application: auth, routing, idempotency, faults, errors and the request log.

One request is one SQLite transaction: the idempotency check, the operation, the stored idempotent
response and the request-log row commit together, so a crash or a concurrent process never sees a
created object without its idempotency key (which would let a retry create a duplicate). Only
successful responses are kept for replay: every error this sandbox produces is a refusal before the
operation took effect (validation, business rule, injected fault), which Stripe does not store either.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import stripe
from stripe._api_version import _ApiVersion

from sf_stripe_pipeline.clock import now_timestamp
from ..transport import SandboxRequest, SandboxResponse, in_process_session
from .base import Context
from .errors import StripeApiError
from .faults import FaultConfig, FaultInjector
from .params import ParamTree, decode_form, validate
from .resources import expand, resolve_route
from .store import StoredResponse, StripeRequestRecord, StripeStore

API_BASE = "http://stripe-sandbox.local"
SANDBOX_API_KEY = "sk_test_sandbox"

_API_KEY = re.compile(r"Bearer ((?:sk|rk)_test_\w+)")
_WRITE_METHODS = frozenset({"POST", "DELETE"})


class StripeSandbox:
    """A stateful local Stripe API (the subset the pipeline uses), persisted under `root`."""

    def __init__(self, root: str | Path, faults: FaultConfig | None = None):
        self.root = Path(root)
        self._store = StripeStore(self.root)
        self._faults = FaultInjector(faults)

    def handle(self, request: SandboxRequest) -> SandboxResponse:
        request_id = f"req_{secrets.token_urlsafe(10)}"
        faults = self._faults  # one configuration for the whole request, even if reconfigured meanwhile
        faults.delay()
        is_write = request.method in _WRITE_METHODS
        idempotency_key = request.header("Idempotency-Key") if is_write else None
        headers = {"Content-Type": "application/json", "Request-Id": request_id, "Stripe-Version": _ApiVersion.CURRENT}
        with self._store.transaction():
            params: ParamTree = {}
            try:
                params = decode_form(_parameter_pairs(request))
                status, body, extra_headers = self._answer(request, params, idempotency_key, request_id, faults)
                headers |= extra_headers
            except StripeApiError as error:
                status, body = error.status, _json(error.to_body())
            self._store.log_request(request.method, request.path, params, idempotency_key, status, request_id)
        if status < 400:
            faults.record_success(is_write)
        return SandboxResponse(status, body, headers)

    def client(self, api_key: str = SANDBOX_API_KEY, max_network_retries: int = 0) -> stripe.StripeClient:
        """A real stripe-python client wired to this sandbox in process."""
        return stripe.StripeClient(
            api_key,
            base_addresses={"api": API_BASE},
            http_client=stripe.RequestsClient(session=in_process_session(self)),
            max_network_retries=max_network_retries,
        )

    def configure_faults(self, faults: FaultConfig | None) -> None:
        self._faults = FaultInjector(faults)

    def reset(self) -> None:
        """Empty all objects, idempotency keys and the request log."""
        self._store.reset()

    def request_log(self) -> list[StripeRequestRecord]:
        """Every request since the last reset, oldest first (persisted: other processes' requests count too)."""
        return self._store.request_log()

    def clear_request_log(self) -> None:
        self._store.clear_request_log()

    def close(self) -> None:
        self._store.close()

    def _answer(
        self,
        request: SandboxRequest,
        params: ParamTree,
        idempotency_key: str | None,
        request_id: str,
        faults: FaultInjector,
    ) -> tuple[int, bytes, dict[str, str]]:
        _authenticate(request)
        faults.check(request.method in _WRITE_METHODS)
        route = resolve_route(request.method, request.path)
        fingerprint = hashlib.sha256(_json([request.method, request.path, params])).hexdigest()
        if idempotency_key:
            stored = self._store.stored_response(idempotency_key)
            if stored is not None:
                if stored.fingerprint != fingerprint:
                    raise StripeApiError(
                        "Keys for idempotent requests can only be used with the same parameters they were first used "
                        f"with. Try using a key other than '{idempotency_key}' if you meant to execute a different "
                        "request.",
                        error_type="idempotency_error",
                    )
                replay_headers = {"Idempotent-Replayed": "true", "Original-Request": stored.request_id}
                return stored.status, stored.body, replay_headers | {"Idempotency-Key": idempotency_key}
        # Refused requests (validation or a business rule) store nothing and leave no partial writes.
        typed_params = validate(params, route.params_cls)
        ctx = Context(self._store, now_timestamp())
        with self._store.savepoint():
            result = getattr(route.resource, route.operation)(ctx, route.object_id, typed_params)
            body = _json(expand(ctx, result, typed_params.get("expand", [])))
        if not idempotency_key:
            return 200, body, {}
        self._store.store_response(idempotency_key, StoredResponse(fingerprint, 200, body, request_id))
        return 200, body, {"Idempotency-Key": idempotency_key}


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
