"""Stripe's error shape, raised anywhere in the sandbox and turned into a response by the API layer.

stripe-python picks its exception class from the HTTP status plus `error.type` / `error.code`
(429 -> RateLimitError, `idempotency_error` -> IdempotencyError, 401 -> AuthenticationError, ...), so
these fields must match what the real API sends for the client's error handling to be exercised.
"""

from __future__ import annotations

from typing import Any

SHOULD_RETRY_HEADER = "Stripe-Should-Retry"


class StripeApiError(Exception):
    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        error_type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        should_retry: bool | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.error_type = error_type
        self.code = code
        self.param = param
        self.should_retry = should_retry
        """Sent as `Stripe-Should-Retry` when set; stripe-python's retry logic obeys it before the status code."""

    @property
    def headers(self) -> dict[str, str]:
        return {} if self.should_retry is None else {SHOULD_RETRY_HEADER: str(self.should_retry).lower()}

    def to_body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.error_type, "message": self.message}
        if self.code:
            error["code"] = self.code
        if self.param:
            error["param"] = self.param
        return {"error": error}


def nested_param(prefix: str | None, name: str) -> str:
    """How Stripe names a parameter in errors: `phases[0][items]`, or just `items` at the top level."""
    return f"{prefix}[{name}]" if prefix else name


def within(prefix: str | None, param: str) -> str:
    """`param` of a nested object named from the request's root: `within("items[0][price_data]", "tiers[1][up_to]")`
    is `items[0][price_data][tiers][1][up_to]`."""
    head, bracket, rest = param.partition("[")
    return nested_param(prefix, head) + bracket + rest


def invalid(message: str, param: str | None = None, code: str | None = None) -> StripeApiError:
    """A 400 invalid_request_error: a request Stripe understood but refuses by a business rule."""
    return StripeApiError(message, param=param, code=code)


def missing_param(param: str) -> StripeApiError:
    return StripeApiError(f"Missing required param: {param}.", code="parameter_missing", param=param)


def no_such(object_name: str, object_id: str, param: str | None = None) -> StripeApiError:
    """Stripe answers an unknown id with 404 when it is the path's object, 400 when it is a parameter."""
    return StripeApiError(
        f"No such {object_name}: '{object_id}'",
        status=400 if param else 404,
        code="resource_missing",
        param=param or "id",
    )
