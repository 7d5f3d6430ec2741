"""Reading the Stripe objects a plan is about: by the ledger's id, or the Stripe id written back on the Salesforce
record (adoption); object types with many ids are listed in pages rather than retrieved one by one."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import stripe

from sf_stripe_pipeline.core import DesiredObject
from sf_stripe_pipeline.stripe.objects import object_ref, service

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
