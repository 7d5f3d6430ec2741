"""Reading the whole Stripe account for the drift check: every object of the types the pipeline writes, listed with
stripe-python's auto-pagination, and the objects the pipeline owns among them.

A sync reads only the objects of the contracts in its scope (stripe/reads.py); this listing is what finds objects
edited by hand whatever their contract, at the price of reading the whole account (100 objects a request).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sf_stripe_pipeline.core import DesiredObject
from sf_stripe_pipeline.core.desired import STRIPE_OBJECT_ORDER
from sf_stripe_pipeline.stripe.lookup import EXTRA_LIST_PARAMS, LIST_PAGE, SYNC_KEY
from sf_stripe_pipeline.stripe.objects import service
from sf_stripe_pipeline.stripe.reads import fetch_actual
from sf_stripe_pipeline.stripe.retry import RetryingReader


def list_every(reader: RetryingReader, stripe_object: str) -> Iterator[dict[str, Any]]:
    """Every live object of a type, newest first (subscriptions of every status). The first page is retried like
    every read; stripe-python's auto-pagination fetches the rest with the client's own network retries."""
    params = {"limit": LIST_PAGE, **EXTRA_LIST_PARAMS.get(stripe_object, {})}
    first = reader.call(lambda: service(reader.client, stripe_object).list(params))
    for obj in first.auto_paging_iter():
        yield obj.to_dict(for_json=True)


@dataclass(frozen=True)
class OwnedState:
    actual: dict[str, dict[str, Any] | None]
    """Desired address -> the Stripe object the pipeline owns for it (None: its id no longer exists)."""
    owned: dict[str, str]
    """Desired address -> the Stripe id of that object."""
    listed: Counter[str]
    """Objects listed, by type."""
    unclaimed: Counter[str]
    """Objects carrying a `salesforce_sync_key` that no desired object claims (a replaced price, an object of a
    contract no longer synced, a duplicate an old crash left), by type: counted, not compared."""


def read_owned(
    reader: RetryingReader,
    desired: Iterable[DesiredObject],
    known_ids: Mapping[str, str],
    *,
    concurrency: int = 1,
) -> OwnedState:
    """List the account and find, for each desired object, the object the pipeline owns for it: the one its ledger
    names (`known_ids`), else the one whose id is written back on its Salesforce record, else the newest live one
    carrying its `salesforce_sync_key`. An owned id the listing lacks (a deleted customer, a deleted draft invoice)
    is retrieved, so a deletion is told from an object that never existed."""
    desired = list(desired)
    by_id: dict[str, dict[str, Any]] = {}
    by_sync_key: dict[str, dict[str, Any]] = {}
    keyed: list[tuple[str, str]] = []
    listed: Counter[str] = Counter()
    for stripe_object in STRIPE_OBJECT_ORDER:
        for body in list_every(reader, stripe_object):
            listed[stripe_object] += 1
            by_id[body["id"]] = body
            key = (body.get("metadata") or {}).get(SYNC_KEY)
            if key:
                by_sync_key.setdefault(key, body)
                keyed.append((stripe_object, body["id"]))

    actual: dict[str, dict[str, Any] | None] = {}
    owned: dict[str, str] = {}
    unlisted: list[DesiredObject] = []
    for wanted in desired:
        stripe_id = known_ids.get(wanted.address) or wanted.linked_stripe_id
        body = by_id.get(stripe_id) if stripe_id else by_sync_key.get(wanted.address)
        if body is not None:
            actual[wanted.address], owned[wanted.address] = body, body["id"]
        elif stripe_id:
            unlisted.append(wanted)
    for found in fetch_actual(reader, unlisted, known_ids, concurrency=concurrency):
        if found.state != "missing" or found.ref in known_ids:
            # A deleted object is conclusive; a missing id is the pipeline's own only when its ledger holds it (an
            # id pasted on a Salesforce record may never have existed).
            actual[found.ref], owned[found.ref] = found.body, found.stripe_id

    claimed = set(owned.values())
    unclaimed = Counter(stripe_object for stripe_object, stripe_id in keyed if stripe_id not in claimed)
    return OwnedState(actual, owned, listed, unclaimed)
