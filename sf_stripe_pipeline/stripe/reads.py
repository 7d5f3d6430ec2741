"""Reading the Stripe objects a plan is about: by the ledger's id, or the Stripe id written back on the Salesforce
record (adoption); object types with many ids are listed in pages rather than retrieved one by one. What neither
names is looked for by its `salesforce_sync_key` (`find_orphans`): an object an earlier attempt created without
the pipeline learning its id. Every read is retried on transient failures (`RetryingReader`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import stripe

from sf_stripe_pipeline.core import DesiredObject
from sf_stripe_pipeline.core.desired import STRIPE_OBJECT_ORDER, is_ref
from sf_stripe_pipeline.stripe.lookup import SCOPE_PARAM, find_created, index_by_sync_key, sync_key
from sf_stripe_pipeline.stripe.objects import object_ref
from sf_stripe_pipeline.stripe.retry import RetryingReader

@dataclass(frozen=True)
class ActualObject:
    ref: str
    stripe_id: str | None
    state: str
    """`found`, `missing` (no id known, or the id no longer exists: re-create, F6) or `deleted` (an error, F6)."""
    body: dict[str, Any] | None


LIST_PAGE = 100
LIST_FROM = 20
"""From this many ids of one type to read, the type is listed first: a page answers up to 100 of them for the price
of one request (and Stripe's rate limit counts requests, not objects)."""


def _listed(reader: RetryingReader, stripe_object: str, wanted: set[str]) -> dict[str, dict[str, Any]]:
    """Read `wanted` ids of one object type by listing, 100 a call, within a page budget of twice what the wanted
    ids could fill: cheap when they are most of the account, and never much dearer than one retrieve each when
    the account holds many other objects. What the pages did not hold is left to individual retrieves."""
    found: dict[str, dict[str, Any]] = {}
    budget = 2 * -(-len(wanted) // LIST_PAGE)
    page = reader.list(stripe_object, {"limit": LIST_PAGE})
    while budget:
        for obj in page.data:
            if obj.id in wanted:
                found[obj.id] = obj.to_dict(for_json=True)
        budget -= 1
        if not page.has_more or len(found) == len(wanted):
            break
        page = reader.list(stripe_object, {"limit": LIST_PAGE, "starting_after": page.data[-1].id})
    return found


def _retrieve(reader: RetryingReader, stripe_object: str, stripe_id: str) -> dict[str, Any] | None:
    try:
        return reader.retrieve(stripe_object, stripe_id).to_dict(for_json=True)
    except stripe.InvalidRequestError as error:
        if error.code != "resource_missing":
            raise
        return None


def fetch_actual(
    client: stripe.StripeClient | RetryingReader,
    desired: Iterable[DesiredObject],
    known_ids: Mapping[str, str],
    *,
    concurrency: int = 1,
) -> list[ActualObject]:
    """The current Stripe object behind each desired object, found by the ledger's id or else the Stripe id written
    on the Salesforce record (adoption of a pasted `Stripe_ID__c`, spec §1.4). Object types with many ids to read
    are listed in pages rather than retrieved one by one; the rest are retrieved `concurrency` at a time."""
    reader = client if isinstance(client, RetryingReader) else RetryingReader(client)
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
        if len(ids) >= LIST_FROM:
            bodies.update(_listed(reader, stripe_object, ids))

    to_retrieve = sorted({(stripe_object, stripe_id) for _, stripe_object, stripe_id in targets if stripe_id} - {
        (stripe_object, stripe_id) for _, stripe_object, stripe_id in targets if stripe_id in bodies
    })
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="stripe-read") as pool:
        retrieved = pool.map(lambda target: _retrieve(reader, *target), to_retrieve)
        bodies.update({stripe_id: body for (_, stripe_id), body in zip(to_retrieve, retrieved) if body is not None})

    released = _released_subscriptions(reader, targets)
    bodies.update({subscription["id"]: subscription for subscription in released.values()})

    actual = []
    for ref, stripe_object, stripe_id in targets:
        if stripe_id in released:
            stripe_id = released[stripe_id]["id"]
        body = bodies.get(stripe_id) if stripe_id else None
        if body is None:
            actual.append(ActualObject(ref, stripe_id, "missing", None))
        else:
            actual.append(ActualObject(ref, stripe_id, "deleted" if body.get("deleted") else "found", body))
    return actual


SCHEDULE_ID_PREFIX = "sub_sched_"


def _released_subscriptions(
    reader: RetryingReader, targets: Iterable[tuple[str, str, str | None]]
) -> dict[str, dict[str, Any]]:
    """F40: an evergreen order with a future start was written back a schedule id; once the schedule has started,
    it released its subscription, and the order is drafted as that subscription. Schedule id -> the released
    subscription, for the subscriptions known only by their schedule's id (the write-back then swaps the id)."""
    schedule_ids = sorted(
        {stripe_id for _, stripe_object, stripe_id in targets
         if stripe_object == "subscription" and stripe_id and stripe_id.startswith(SCHEDULE_ID_PREFIX)}
    )
    released = {}
    for schedule_id in schedule_ids:
        schedule = _retrieve(reader, "subscription_schedule", schedule_id)
        subscription_id = (schedule or {}).get("released_subscription")
        subscription = _retrieve(reader, "subscription", subscription_id) if subscription_id else None
        if subscription is not None:
            released[schedule_id] = subscription
    return released


FEW = 3
"""Up to this many missing objects of a type are looked up one by one; more, and the type is listed first."""


def _scope_id(wanted: DesiredObject, ids: Mapping[str, str]) -> str | None:
    """The Stripe id of the parent a lookup of `wanted` lists by (its customer, its product), if it exists."""
    parent = wanted.params.get(SCOPE_PARAM[wanted.stripe_object])
    if is_ref(parent):
        return ids.get(parent["$ref"])
    return parent if isinstance(parent, str) else None


def find_orphans(
    reader: RetryingReader, missing: Iterable[DesiredObject], ids: Mapping[str, str]
) -> dict[str, dict[str, Any]]:
    """Objects an earlier attempt created for `missing` desired objects (no known id, or one that no longer exists),
    found by their sync key: desired address -> the Stripe object. Types are looked at parents first, so a
    schedule is looked for only under a customer that exists. A few objects of a type are looked up one by one;
    more, and the type's newest pages are listed first (on an empty account one request answers them all), the
    rest looked up one by one."""
    known = dict(ids)
    found: dict[str, dict[str, Any]] = {}
    by_type: dict[str, list[DesiredObject]] = {}
    for wanted in missing:
        by_type.setdefault(wanted.stripe_object, []).append(wanted)
    for stripe_object in STRIPE_OBJECT_ORDER:
        wanted_of_type = by_type.get(stripe_object, [])
        if not wanted_of_type:
            continue
        index: dict[str, dict[str, Any]] = {}
        complete = False
        if len(wanted_of_type) > FEW or stripe_object not in SCOPE_PARAM and stripe_object not in ("customer", "product"):
            pages = None if stripe_object == "coupon" else 2 * -(-len(wanted_of_type) // LIST_PAGE)
            index, complete = index_by_sync_key(reader, stripe_object, pages)
        for wanted in wanted_of_type:
            body = index.get(sync_key(stripe_object, wanted.key))
            if body is None and not complete:
                params: dict[str, Any] = {}
                if stripe_object in SCOPE_PARAM:
                    parent = _scope_id(wanted, known)
                    if parent is None:
                        continue  # its parent does not exist in Stripe, so neither can it
                    params[SCOPE_PARAM[stripe_object]] = parent
                body = find_created(reader, stripe_object, wanted.key, params)
            if body is not None:
                found[wanted.address] = body
                known[wanted.address] = body["id"]
    return found
