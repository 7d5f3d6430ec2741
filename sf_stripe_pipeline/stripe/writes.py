"""Executing a plan against Stripe.

Thin on purpose: what to write comes from the pure planner (`core/plan.py`); here we only resolve symbolic
references (`{"$ref": "customer:001…"}`) to Stripe ids, call stripe-python with each operation's deterministic
idempotency key, and report an outcome per operation. A re-run after a crash re-plans the same operations with the
same keys, so Stripe replays the creates that already happened instead of duplicating them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import stripe

from sf_stripe_pipeline.core import REF_KEY, PlannedOperation
from sf_stripe_pipeline.stripe.objects import object_label, object_ref, service

@dataclass(frozen=True)
class OperationOutcome:
    operation: PlannedOperation
    status: str
    """`success`, `error` or `skipped` (a dependency failed)."""
    stripe_id: str | None
    message: str
    request_id: str | None
    payment_link: str | None = None
    """A finalized invoice's hosted_invoice_url (F26: written to Order.Stripe_Invoice_Payment_Link__c)."""


class UnresolvedReference(LookupError):
    pass


def resolve_refs(value: Any, ids: Mapping[str, str]) -> Any:
    """Replace every `{"$ref": "object:key"}` in `value` by the referenced object's Stripe id."""
    if isinstance(value, dict):
        if set(value) == {REF_KEY}:
            try:
                return ids[value[REF_KEY]]
            except KeyError:
                raise UnresolvedReference(value[REF_KEY]) from None
        return {name: resolve_refs(item, ids) for name, item in value.items()}
    if isinstance(value, list):
        return [resolve_refs(item, ids) for item in value]
    return value


def _call(
    client: stripe.StripeClient, operation: PlannedOperation, stripe_id: str | None, params: dict[str, Any]
) -> Any:
    target = service(client, operation.stripe_object)
    options: stripe.RequestOptions = {"idempotency_key": operation.idempotency_key}
    if operation.operation == "create":
        return target.create(params=params, options=options)
    if operation.operation in ("update", "archive"):
        return target.update(stripe_id, params=params, options=options)
    if operation.operation == "cancel":
        return target.cancel(stripe_id, params=params, options=options)
    if operation.operation == "finalize":
        return target.finalize_invoice(stripe_id, params=params, options=options)
    raise ValueError(f"Unknown operation {operation.operation!r} for {operation.stripe_object} {operation.key}")


def execute_plan(
    client: stripe.StripeClient, operations: Sequence[PlannedOperation], known_ids: Mapping[str, str]
) -> list[OperationOutcome]:
    """Run the operations in dependency order. An operation whose dependency failed is skipped, not attempted."""
    ids = dict(known_ids)
    outcomes = []
    for operation in sorted(operations, key=lambda op: op.seq):
        ref = object_ref(operation.stripe_object, operation.key)
        # An archive without a Stripe id retires the object this plan created under the same key (a line price,
        # once its schedule is saved).
        stripe_id = operation.stripe_id or ids.get(ref)
        try:
            params = resolve_refs(operation.params, ids)
            if operation.operation != "create" and stripe_id is None:
                raise UnresolvedReference(ref)
        except UnresolvedReference as missing:
            message = f"Skipped: {missing.args[0]} was not synced, so this {operation.operation} could not run."
            outcomes.append(OperationOutcome(operation, "skipped", stripe_id, message, None))
            continue
        try:
            result = _call(client, operation, stripe_id, params)
        except stripe.StripeError as error:
            message = f"Stripe Error: {error.user_message or error}"
            outcomes.append(OperationOutcome(operation, "error", stripe_id, message, error.request_id))
            continue
        if operation.operation == "create":  # an archive retires the old object: the key keeps its new one
            ids[ref] = result.id
        request_id = result.last_response.request_id if result.last_response else None
        link = getattr(result, "hosted_invoice_url", None) if operation.operation == "finalize" else None
        outcomes.append(
            OperationOutcome(operation, "success", result.id, _describe(operation, result.id), request_id, link)
        )
    return outcomes


def _describe(operation: PlannedOperation, stripe_id: str) -> str:
    verb = {
        "create": "Created",
        "update": "Updated",
        "archive": "Archived",
        "cancel": "Canceled",
        "finalize": "Finalized",
    }[operation.operation]
    return f"{verb} Stripe {object_label(operation.stripe_object)} with Id: {stripe_id}"
