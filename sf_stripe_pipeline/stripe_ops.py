"""The Stripe side of the imperative shell: read the objects the plan is about, and execute a plan.

Both are thin: what to write comes from the pure planner (`sync/plan.py`); here we only resolve symbolic
references (`{"$ref": "customer:001…"}`) to Stripe ids, call stripe-python with each operation's deterministic
idempotency key, and report an outcome per operation. A re-run after a crash re-plans the same operations with the
same keys, so Stripe replays the creates that already happened instead of duplicating them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import stripe

from sf_stripe_pipeline.core import REF_KEY, DesiredObject, PlannedOperation

SERVICES = {
    "customer": "customers",
    "product": "products",
    "price": "prices",
    "coupon": "coupons",
    "subscription_schedule": "subscription_schedules",
    "subscription": "subscriptions",
    "invoice_item": "invoice_items",
    "invoice": "invoices",
}


def service(client: stripe.StripeClient, stripe_object: str) -> Any:
    return getattr(client.v1, SERVICES[stripe_object])


def object_ref(stripe_object: str, key: str) -> str:
    return f"{stripe_object}:{key}"


@dataclass(frozen=True)
class ActualObject:
    ref: str
    stripe_id: str | None
    state: str
    """`found`, `missing` (no id known, or the id no longer exists: re-create, F6) or `deleted` (an error, F6)."""
    body: dict[str, Any] | None


LIST_PAGE = 100


def _listed(client: stripe.StripeClient, stripe_object: str, wanted: set[str]) -> dict[str, dict[str, Any]]:
    """Read `wanted` ids of one object type by listing, 100 a call, within a page budget of twice what the wanted
    ids could fill: cheap when they are most of the account, and never much dearer than one retrieve each when
    the account holds many other objects. What the pages did not hold is left to individual retrieves."""
    found: dict[str, dict[str, Any]] = {}
    budget = 2 * -(-len(wanted) // LIST_PAGE)
    page = service(client, stripe_object).list({"limit": LIST_PAGE})
    while budget:
        for obj in page.data:
            if obj.id in wanted:
                found[obj.id] = obj.to_dict(for_json=True)
        budget -= 1
        if not page.has_more or len(found) == len(wanted):
            break
        page = service(client, stripe_object).list({"limit": LIST_PAGE, "starting_after": page.data[-1].id})
    return found


def _retrieve(client: stripe.StripeClient, stripe_object: str, stripe_id: str) -> dict[str, Any] | None:
    try:
        return service(client, stripe_object).retrieve(stripe_id).to_dict(for_json=True)
    except stripe.InvalidRequestError as error:
        if error.code != "resource_missing":
            raise
        return None


def fetch_actual(
    client: stripe.StripeClient, desired: Iterable[DesiredObject], known_ids: Mapping[str, str]
) -> list[ActualObject]:
    """The current Stripe object behind each desired object, found by the ledger's id or else the Stripe id written
    on the Salesforce record (adoption of a pasted `Stripe_ID__c`, spec §1.4). Object types with many ids to read
    are listed in pages rather than retrieved one by one."""
    targets: list[tuple[str, str, str | None]] = []
    ids_by_type: dict[str, set[str]] = {}
    for wanted in desired:
        ref = object_ref(wanted.stripe_object, wanted.key)
        stripe_id = known_ids.get(ref) or wanted.linked_stripe_id
        targets.append((ref, wanted.stripe_object, stripe_id))
        if stripe_id:
            ids_by_type.setdefault(wanted.stripe_object, set()).add(stripe_id)
    bodies: dict[str, dict[str, Any]] = {}
    for stripe_object, ids in ids_by_type.items():
        if len(ids) >= LIST_PAGE:
            bodies.update(_listed(client, stripe_object, ids))

    actual = []
    for ref, stripe_object, stripe_id in targets:
        if not stripe_id:
            actual.append(ActualObject(ref, None, "missing", None))
            continue
        if stripe_id not in bodies:
            body = _retrieve(client, stripe_object, stripe_id)
            if body is None:
                actual.append(ActualObject(ref, stripe_id, "missing", None))
                continue
            bodies[stripe_id] = body
        body = bodies[stripe_id]
        actual.append(ActualObject(ref, stripe_id, "deleted" if body.get("deleted") else "found", body))
    return actual


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


_LABELS = {
    "customer": "Customer",
    "product": "Product",
    "price": "Price",
    "coupon": "Coupon",
    "subscription_schedule": "Subscription Schedule",
    "subscription": "Subscription",
    "invoice_item": "Invoice Item",
    "invoice": "Invoice",
}


def object_label(stripe_object: str) -> str:
    return _LABELS.get(stripe_object, stripe_object)


def _describe(operation: PlannedOperation, stripe_id: str) -> str:
    verb = {
        "create": "Created",
        "update": "Updated",
        "archive": "Archived",
        "cancel": "Canceled",
        "finalize": "Finalized",
    }[operation.operation]
    return f"{verb} Stripe {object_label(operation.stripe_object)} with Id: {stripe_id}"
