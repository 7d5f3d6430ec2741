"""Logins: the sandbox org's OAuth 2.0 token endpoint, so a client can get a new session as a real org lets it.

A real org hands out access tokens from `POST /services/oauth2/token`; when one expires, the API answers
401 INVALID_SESSION_ID and the client logs in again. simple-salesforce does that by itself when it logged in itself
(`Salesforce(username=, password=, consumer_key=, consumer_secret=)`, the JWT bearer flow, client credentials), and
cannot when it was only given a token (`Salesforce(instance_url=, session_id=)`).

The sandbox answers the username-password and client-credentials grants for its one integration user, with the
public credentials below (they open nothing but this local sandbox). Any other non-empty bearer token is accepted
as a session too, as before, so curl and fixed-token clients keep working; only an injected fault
(`faults.FaultConfig`) expires sessions. Tokens live in this process's memory, like the sessions of one server.
Logins are not API requests: they do not appear in the request log and do not count against the daily allowance.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import threading
from datetime import datetime
from urllib.parse import parse_qs

from sf_stripe_pipeline import clock
from sf_stripe_pipeline.sandbox.salesforce.ids import make_id
from sf_stripe_pipeline.sandbox.salesforce.store import INSTANCE_URL
from sf_stripe_pipeline.sandbox.transport import SandboxRequest, SandboxResponse

TOKEN_PATH = "/services/oauth2/token"
LOGIN_DOMAIN = "sandbox.my"
"""simple-salesforce's `domain` for the sandbox: it logs in at `https://sandbox.my.salesforce.com`, the instance."""
USERNAME = "integration@sf-stripe.sandbox"
PASSWORD = "sandbox-password"
CONSUMER_KEY = "sandbox-consumer-key"
CONSUMER_SECRET = "sandbox-consumer-secret"
ORG_ID = make_id("00D", 1)
USER_ID = make_id("005", 1)


class Sessions:
    """The access tokens this sandbox issued, with when. Thread-safe."""

    def __init__(self) -> None:
        self._issued: dict[str, datetime] = {}
        self._lock = threading.Lock()

    @property
    def logins(self) -> int:
        """How many sessions the token endpoint has issued."""
        with self._lock:
            return len(self._issued)

    def issued_at(self, token: str) -> datetime | None:
        """When the token endpoint issued `token`; None for a token it did not issue."""
        with self._lock:
            return self._issued.get(token)

    def token_endpoint(self, request: SandboxRequest) -> SandboxResponse:
        """`POST /services/oauth2/token`: a new session for the integration user, or an OAuth error as Salesforce's."""
        form = {name: values[0] for name, values in parse_qs(request.body.decode("utf-8", "replace")).items()}
        grant_type = form.get("grant_type")
        if grant_type not in ("password", "client_credentials"):
            return _oauth_error("unsupported_grant_type", "grant type not supported")
        client_id, client_secret = _client_credentials(request, form)
        if client_id != CONSUMER_KEY:
            return _oauth_error("invalid_client_id", "client identifier invalid")
        if client_secret != CONSUMER_SECRET:
            return _oauth_error("invalid_client", "invalid client credentials")
        if grant_type == "password" and (form.get("username"), form.get("password")) != (USERNAME, PASSWORD):
            return _oauth_error("invalid_grant", "authentication failure")
        token = f"{ORG_ID[:15]}!{secrets.token_urlsafe(48)}"
        issued_at = clock.now()
        with self._lock:
            self._issued[token] = issued_at
        body = {
            "access_token": token,
            "instance_url": INSTANCE_URL,
            "id": f"{INSTANCE_URL}/id/{ORG_ID}/{USER_ID}",
            "token_type": "Bearer",
            "issued_at": str(int(issued_at.timestamp() * 1000)),
            "signature": base64.b64encode(secrets.token_bytes(32)).decode(),
        }
        return SandboxResponse(200, json.dumps(body).encode())


def _client_credentials(request: SandboxRequest, form: dict[str, str]) -> tuple[str | None, str | None]:
    """The connected app's key and secret, from HTTP Basic auth (client credentials) or the form (password grant)."""
    scheme, _, encoded = (request.header("Authorization") or "").partition(" ")
    if scheme.lower() == "basic":
        try:
            key, _, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None, None
        return key, secret
    return form.get("client_id"), form.get("client_secret")


def _oauth_error(error: str, description: str) -> SandboxResponse:
    return SandboxResponse(400, json.dumps({"error": error, "error_description": description}).encode())
