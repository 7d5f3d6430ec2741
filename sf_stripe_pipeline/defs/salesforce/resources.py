"""`SalesforceResource`: simple-salesforce against a real org, or against the embedded Salesforce sandbox.

Auth is one of (first match wins):
- instance URL + access token (`SF_INSTANCE_URL`, `SF_ACCESS_TOKEN`);
- OAuth JWT bearer through a connected app (`SF_USERNAME`, `SF_CONSUMER_KEY`, `SF_PRIVATE_KEY_FILE`, `SF_DOMAIN`);
- username + password + security token (`SF_USERNAME`, `SF_PASSWORD`, `SF_SECURITY_TOKEN`, `SF_DOMAIN`).
With none configured, the client talks to the sandbox under `$SF_STRIPE_HOME/sandbox/salesforce`.
Secrets reach the resource only as `dagster.EnvVar`s (see `defs/resources.py`).

Two answers end a run at once, with one line saying why (issues 10.4, 12.7), whatever request gets them (a hook on
the client's HTTP session sees every response):
- 403 `REQUEST_LIMIT_EXCEEDED`: the org's daily API allowance is used up; retrying only spends what other
  integrations need, so nothing more is sent (`SalesforceStop`, never retried by Dagster);
- 401 `INVALID_SESSION_ID` on a client given only an access token, which cannot log in again. A client that logged
  in itself (username and password, JWT, the sandbox) logs in again and repeats the request: simple-salesforce
  does that on its own.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import dagster as dg
import requests
from simple_salesforce import Salesforce

from sf_stripe_pipeline import home
from sf_stripe_pipeline.sandbox.salesforce import SalesforceSandbox

API_VERSION = "62.0"
EXACT_NUMBERS: dict[str, Any] = {"parse_float": Decimal}
"""Salesforce numbers are parsed as Decimal, never float: money stays exact from the first byte (spec F18)."""


class SalesforceStop(dg.Failure):
    """A Salesforce answer that ends the run at once, never retried; its description is one line."""

    def __init__(self, description: str):
        super().__init__(description=description, allow_retries=False)

    def __str__(self) -> str:
        return self.description or ""


def _error_codes(response: requests.Response) -> list[tuple[str, str]]:
    try:
        body = response.json()
    except ValueError:
        return []
    rows = body if isinstance(body, list) else [body]
    return [(str(row.get("errorCode")), str(row.get("message"))) for row in rows if isinstance(row, dict)]


def _stopping_answers(can_log_in_again: bool):
    """A `requests` response hook raising SalesforceStop for the answers that must end the run."""

    def check(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if response.status_code not in (401, 403):
            return
        for code, message in _error_codes(response):
            if code == "REQUEST_LIMIT_EXCEEDED":
                raise SalesforceStop(
                    f"Salesforce REQUEST_LIMIT_EXCEEDED ({message}): the org's daily API request limit is used up, "
                    "so the sync stopped without sending anything more; the allowance frees up over a rolling "
                    "24 hours (Setup > System Overview shows it)."
                )
            if code == "INVALID_SESSION_ID" and not can_log_in_again:
                raise SalesforceStop(
                    f"Salesforce INVALID_SESSION_ID ({message}): the access token in SF_ACCESS_TOKEN expired and "
                    "cannot be renewed; set a new one, or SF_USERNAME with a password or a connected app's key so "
                    "the sync can log in again."
                )

    return check


class SalesforceResource(dg.ConfigurableResource):
    """A Salesforce REST client. Unconfigured, it is the embedded sandbox."""

    instance_url: str | None = None
    access_token: str | None = None
    username: str | None = None
    password: str | None = None
    security_token: str | None = None
    consumer_key: str | None = None
    private_key_file: str | None = None
    domain: str | None = None
    """`login` (production) or `test` (a Salesforce sandbox org)."""
    api_version: str = API_VERSION
    sandbox_dir: str | None = None
    """The embedded sandbox's folder; default `$SF_STRIPE_HOME/sandbox/salesforce`."""
    api_usage_limit_percent: float = 95.0
    """Stop once the org's daily API usage (from `Sforce-Limit-Info`) reaches this share of its allowance, leaving
    the rest to other integrations (the connector's "API percentage limit")."""

    @property
    def uses_sandbox(self) -> bool:
        return not (self.access_token or self.username)

    def get_client(self) -> Salesforce:
        client = self._client()
        client.session.hooks.setdefault("response", []).append(_stopping_answers(not self.access_token))
        return client

    def _client(self) -> Salesforce:
        if self.access_token:
            return Salesforce(
                instance_url=self.instance_url, session_id=self.access_token, version=self.api_version, **EXACT_NUMBERS
            )
        if self.username and self.consumer_key:
            return Salesforce(
                username=self.username,
                consumer_key=self.consumer_key,
                privatekey_file=self.private_key_file,
                domain=self.domain,
                version=self.api_version,
                **EXACT_NUMBERS,
            )
        if self.username:
            return Salesforce(
                username=self.username,
                password=self.password,
                security_token=self.security_token,
                domain=self.domain,
                version=self.api_version,
                **EXACT_NUMBERS,
            )
        return SalesforceSandbox(self.sandbox_dir or home.salesforce_sandbox_dir()).client()

    def check_api_budget(self, client: Salesforce) -> None:
        """Raise a non-retried `dagster.Failure` when the last response reported usage at or above the limit."""
        usage = client.api_usage.get("api-usage")
        if usage is None or not usage.total:
            return
        percent = 100 * usage.used / usage.total
        if percent >= self.api_usage_limit_percent:
            raise dg.Failure(
                description=f"Salesforce daily API usage is {usage.used:,}/{usage.total:,} ({percent:.1f} %), at or "
                f"above api_usage_limit_percent = {self.api_usage_limit_percent:g} on the salesforce resource. "
                "Stopped to leave the org's allowance to other integrations; raise the limit or wait for the "
                "rolling 24-hour window.",
                allow_retries=False,
            )

    @staticmethod
    def api_usage(client: Salesforce) -> dict[str, Any]:
        """Daily API usage from the last `Sforce-Limit-Info` header, for run metadata."""
        usage = client.api_usage.get("api-usage")
        if usage is None:
            return {}
        return {"salesforce/api_used": usage.used, "salesforce/api_limit": usage.total}
