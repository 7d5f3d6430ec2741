"""Finding a Stripe object the pipeline created by its `salesforce_sync_key` metadata (adoption of orphans).

Every object the pipeline creates carries `metadata.salesforce_sync_key = "<stripe_object>:<key>"`, the address of
the desired object it stands for, which is unique where the F10 back-references are not (one OrderItem has a line
price, proration prices and an invoice item; a coupon version is used by many orders). When a create may have
reached Stripe without the pipeline learning the id (a crash, a 500 saved under the idempotency key, a key reused
with other parameters, a warehouse rebuilt from scratch), the object is looked up by that key before anything is
created again:

- where a list can be narrowed to a few objects, by a list, which is consistent at once: schedules,
  subscriptions, invoice items and invoices by customer, prices by product, and customers, products and coupons
  created since the earlier attempt when its time is known;
- otherwise by Search (customers, products; Stripe's search may lag about a minute behind writes, which the
  deterministic idempotency keys cover: within 24 h a repeated create is replayed, not executed);
- coupons, which Search does not cover, by listing them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from sf_stripe_pipeline.stripe.retry import RetryingReader

SYNC_KEY = "salesforce_sync_key"
LIST_PAGE = 100
CLOCK_SKEW_SECONDS = 600
"""Objects created up to this long before an attempt's recorded time still count as its own (clock skew)."""
SCOPE_PARAM = {
    "price": "product",
    "subscription_schedule": "customer",
    "subscription": "customer",
    "invoice_item": "customer",
    "invoice": "customer",
}
"""The create parameter that names the object's parent, by which its list can be filtered."""
SEARCHABLE = frozenset({"customer", "product"})
"""Types searched by metadata when they cannot be listed by parent or time (prices are listed by product)."""
EXTRA_LIST_PARAMS = {"subscription": {"status": "all"}}
"""Without it, canceled subscriptions are not listed."""


def sync_key(stripe_object: str, key: str) -> str:
    return f"{stripe_object}:{key}"


def with_sync_key(params: Mapping[str, Any], stripe_object: str, key: str) -> dict[str, Any]:
    """Create params carrying the sync key in their metadata."""
    metadata = {**(params.get("metadata") or {}), SYNC_KEY: sync_key(stripe_object, key)}
    return {**params, "metadata": metadata}


def _key_of(obj: Any) -> str | None:
    metadata = getattr(obj, "metadata", None)
    if metadata is None:
        return None
    return (metadata.to_dict() if hasattr(metadata, "to_dict") else metadata).get(SYNC_KEY)


def _pages(reader: RetryingReader, stripe_object: str, params: dict[str, Any]) -> Iterator[Any]:
    """Every object of a list, newest first, page by page."""
    page = reader.list(stripe_object, {**params, "limit": LIST_PAGE})
    while True:
        yield from page.data
        if not page.has_more or not page.data:
            return
        page = reader.list(stripe_object, {**params, "limit": LIST_PAGE, "starting_after": page.data[-1].id})


def _search(reader: RetryingReader, stripe_object: str, key: str) -> Any | None:
    escaped = key.replace("\\", "\\\\").replace("'", "\\'")
    result = reader.search(stripe_object, {"query": f"metadata['{SYNC_KEY}']:'{escaped}'", "limit": 10})
    return next((obj for obj in result.data if _key_of(obj) == key and not getattr(obj, "deleted", False)), None)


def find_created(
    reader: RetryingReader,
    stripe_object: str,
    key: str,
    params: Mapping[str, Any],
    *,
    since: int | None = None,
) -> dict[str, Any] | None:
    """The newest live object carrying the sync key of (`stripe_object`, `key`), or None.

    `params` are the create's resolved parameters (they name the parent to list by); `since` is when an earlier
    attempt was made (Unix seconds), which narrows lists of unscoped types to what was created since then."""
    wanted = sync_key(stripe_object, key)
    scope = SCOPE_PARAM.get(stripe_object)
    if scope is not None:
        parent = params.get(scope)
        if not isinstance(parent, str):
            return None
        listing = {scope: parent, **EXTRA_LIST_PARAMS.get(stripe_object, {})}
    elif since is not None:
        listing = {"created": {"gte": since - CLOCK_SKEW_SECONDS}}
    elif stripe_object in SEARCHABLE:
        found = _search(reader, stripe_object, wanted)
        return found.to_dict(for_json=True) if found is not None else None
    else:
        listing = {}
    for obj in _pages(reader, stripe_object, listing):
        if _key_of(obj) == wanted and not getattr(obj, "deleted", False):
            return obj.to_dict(for_json=True)
    return None


def index_by_sync_key(
    reader: RetryingReader, stripe_object: str, max_pages: int | None
) -> tuple[dict[str, dict[str, Any]], bool]:
    """Up to `max_pages` pages of every object of a type, newest first, by sync key (the newest per key wins).
    Returns the index and whether it is complete (the listing ended within the pages; None: no limit)."""
    found: dict[str, dict[str, Any]] = {}
    params: dict[str, Any] = {"limit": LIST_PAGE, **EXTRA_LIST_PARAMS.get(stripe_object, {})}
    page = reader.list(stripe_object, params)
    pages = 1
    while True:
        for obj in page.data:
            key = _key_of(obj)
            if key and key not in found and not getattr(obj, "deleted", False):
                found[key] = obj.to_dict(for_json=True)
        if not page.has_more or not page.data:
            return found, True
        if max_pages is not None and pages >= max_pages:
            return found, False
        page = reader.list(stripe_object, {**params, "starting_after": page.data[-1].id})
        pages += 1
