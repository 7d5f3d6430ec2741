"""What every sandbox resource shares: the request context, the create/retrieve/update/list/delete skeleton,
Stripe's metadata rules and billing-period arithmetic.

A resource is one Stripe API object type (`stripe.Customer`, `stripe.SubscriptionSchedule`, ...). Its URL and
`object` name come from the SDK class, its parameter checks from the SDK's params TypedDicts (params.py);
a subclass adds only the behaviour Stripe attaches to that object type.
"""

from __future__ import annotations

import os
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from dateutil.relativedelta import relativedelta

from .errors import StripeApiError, invalid, no_such
from .search import SearchField, compile_query, decode_page, encode_page
from .store import Condition, StripeStore

StripeObject = dict[str, Any]

METADATA_MAX_KEYS = 50
METADATA_MAX_KEY_LENGTH = 40
METADATA_MAX_VALUE_LENGTH = 500
LIST_LIMIT_RANGE = range(1, 101)
DEFAULT_LIST_LIMIT = 10

_ID_ALPHABET = string.ascii_letters + string.digits


WRITTEN_AT = "_written_at"
"""Hidden field: the sandbox-clock time an object was last written (search lag is measured from it)."""


@dataclass
class Context:
    """One request's view: the store and the sandbox clock's "now", read once so a request sees one instant."""

    store: StripeStore
    now: int
    search_lag_seconds: float = 0.0

    def insert(self, obj: StripeObject) -> None:
        obj[WRITTEN_AT] = self.now
        self.store.insert(obj)

    def replace(self, obj: StripeObject) -> None:
        obj[WRITTEN_AT] = self.now
        self.store.replace(obj)

    @staticmethod
    def new_id(prefix: str, length: int = 24, alphabet: str = _ID_ALPHABET) -> str:
        """OS entropy, so processes sharing the store cannot collide; the modulo bias is irrelevant here."""
        return prefix + "".join(alphabet[byte % len(alphabet)] for byte in os.urandom(length))


class Resource:
    """Default behaviour of one Stripe object type; subclasses override the operations that differ."""

    api_class: ClassVar[type]
    """The stripe-python class: gives the URL (`class_url()`), `OBJECT_NAME` and the params-class prefix."""
    id_prefix: ClassVar[str]
    list_filters: ClassVar[Mapping[str, str]] = {}
    """List parameter -> object field it matches (a list value matches any of its items)."""
    write_only: ClassVar[frozenset[str]] = frozenset()
    """Parameters that steer an operation but are not fields of the object."""
    actions: ClassVar[Mapping[str, str]] = {}
    """`POST {url}/{id}/{suffix}` -> operation name (which also names the params class)."""
    delete_operation: ClassVar[str | None] = "delete"
    """What `DELETE {url}/{id}` does (subscriptions: `cancel`)."""
    keeps_deleted: ClassVar[bool] = False
    """Whether a deleted object stays retrievable as a `deleted: true` stub (customers)."""
    list_params: ClassVar[frozenset[str]] = frozenset()
    """List parameters a subclass's `list_conditions` handles beyond `list_filters`; any other filter the SDK
    accepts is refused rather than silently ignored (an ignored filter would return the wrong objects)."""
    search_fields: ClassVar[Mapping[str, SearchField]] = {}
    """Stripe's query fields for `GET {url}/search` (metadata is always searchable where search exists)."""
    includable: ClassVar[frozenset[str]] = frozenset()
    """Fields Stripe returns only when expanded (`expand[]=tiers` on prices)."""

    @property
    def name(self) -> str:
        return self.api_class.__name__

    @property
    def object_name(self) -> str:
        return self.api_class.OBJECT_NAME

    @property
    def url(self) -> str:
        return self.api_class.class_url()

    # -- operations ----------------------------------------------------------------------------

    def create(self, ctx: Context, object_id: None, params: dict[str, Any]) -> StripeObject:
        obj = self.build(ctx, params)
        ctx.insert(obj)
        return self.render(ctx, self.refresh(ctx, obj))

    def retrieve(self, ctx: Context, object_id: str, params: dict[str, Any]) -> StripeObject:
        return self.render(ctx, self.load(ctx, object_id, allow_deleted=self.keeps_deleted))

    def update(self, ctx: Context, object_id: str, params: dict[str, Any]) -> StripeObject:
        obj = self.load(ctx, object_id)
        self.apply_update(ctx, obj, params)
        ctx.replace(obj)
        return self.render(ctx, self.refresh(ctx, obj))

    def delete(self, ctx: Context, object_id: str, params: dict[str, Any]) -> StripeObject:
        obj = self.load(ctx, object_id)
        self.check_deletable(ctx, obj)
        stub = {"id": obj["id"], "object": self.object_name, "deleted": True}
        if self.keeps_deleted:
            ctx.replace(stub)
        else:
            ctx.store.remove(self.object_name, object_id)
        return stub

    def list(self, ctx: Context, object_id: None, params: dict[str, Any]) -> StripeObject:
        limit = list_limit(params)
        unsupported = set(params) - _PAGING_PARAMS - self.list_filters.keys() - self.list_params
        if unsupported:
            name = sorted(unsupported)[0]
            raise invalid(f"The Stripe sandbox does not filter {self.url} by `{name}`.", name)
        after, before = params.get("starting_after"), params.get("ending_before")
        try:
            rows, has_more = ctx.store.page(self.object_name, self.list_conditions(params), limit, after, before)
        except LookupError as missing:
            raise no_such(self.object_name, str(missing), "starting_after" if after else "ending_before") from None
        return {
            "object": "list",
            "data": [self.render(ctx, self.refresh(ctx, row)) for row in rows],
            "has_more": has_more,
            "url": self.url,
        }

    def search(self, ctx: Context, object_id: None, params: dict[str, Any]) -> StripeObject:
        """Stripe's search: newest first, `page`/`next_page` cursors, blind to writes within the search lag."""
        limit = list_limit(params)
        query = compile_query(params["query"], dict(self.search_fields), self.url.rpartition("/")[2])
        where, args = query.sql, list(query.args)
        if ctx.search_lag_seconds > 0:
            where += f" AND IFNULL(json_extract(data, '$.{WRITTEN_AT}'), 0) <= ?"
            args.append(ctx.now - ctx.search_lag_seconds)
        after = decode_page(params["page"]) if params.get("page") else None
        rows, has_more, cursor = ctx.store.search(self.object_name, where, args, limit, after)
        return {
            "object": "search_result",
            "data": [self.render(ctx, self.refresh(ctx, row)) for row in rows],
            "has_more": has_more,
            "next_page": encode_page(cursor) if has_more and cursor else None,
            "url": f"{self.url}/search",
        }

    # -- hooks -----------------------------------------------------------------------------------

    def build(self, ctx: Context, params: dict[str, Any]) -> StripeObject:
        """The new object for a create; the default keeps every parameter that is not write-only."""
        return self.new_object(ctx, {**self.defaults(ctx), **self.stored_fields(params)}, params)

    def defaults(self, ctx: Context) -> StripeObject:
        return {}

    def apply_update(self, ctx: Context, obj: StripeObject, params: dict[str, Any]) -> None:
        metadata = params.get("metadata", {})
        obj.update(self.stored_fields(params))
        obj["metadata"] = merge_metadata(obj.get("metadata", {}), metadata)

    def check_deletable(self, ctx: Context, obj: StripeObject) -> None:
        pass

    def refresh(self, ctx: Context, obj: StripeObject) -> StripeObject:
        """Bring a stored object up to the sandbox clock before it is shown (schedules advance lazily)."""
        return obj

    def render(self, ctx: Context, obj: StripeObject) -> StripeObject:
        """The API representation: hidden bookkeeping (`_`-prefixed keys) and unexpanded includables removed."""
        return {
            key: value for key, value in obj.items() if not key.startswith("_") and key not in self.includable
        }

    def list_conditions(self, params: dict[str, Any]) -> list[Condition]:
        conditions = [
            Condition(field, "in" if isinstance(params[param], list) else "=", params[param])
            for param, field in self.list_filters.items()
            if params.get(param) is not None
        ]
        return conditions + created_conditions(params.get("created"))

    # -- helpers ---------------------------------------------------------------------------------

    def load(self, ctx: Context, object_id: str, allow_deleted: bool = False, param: str | None = None) -> StripeObject:
        obj = ctx.store.get(self.object_name, object_id)
        if obj is None or (obj.get("deleted") and not allow_deleted):
            raise no_such(self.object_name, object_id, param)
        return self.refresh(ctx, obj) if not obj.get("deleted") else obj

    def oldest_first(self, ctx: Context, conditions: list[Condition]) -> list[StripeObject]:
        """Objects in the order they were added (how Stripe lists a subscription's items or invoice's lines)."""
        return ctx.store.find(self.object_name, conditions)[::-1]

    def new_object(self, ctx: Context, fields: StripeObject, params: dict[str, Any]) -> StripeObject:
        object_id = params.get("id") or self.new_id()
        if params.get("id") and ctx.store.get(self.object_name, object_id) is not None:
            raise invalid(f"{self.name} already exists.", "id", code="resource_already_exists")
        fields["metadata"] = merge_metadata({}, params.get("metadata", {}))
        return {"id": object_id, "object": self.object_name, "created": ctx.now, "livemode": False, **fields}

    def new_id(self) -> str:
        return Context.new_id(self.id_prefix)

    def stored_fields(self, params: dict[str, Any]) -> StripeObject:
        hidden = self.write_only | {"expand", "metadata", "id"}
        return {key: value for key, value in params.items() if key not in hidden}


_PAGING_PARAMS = frozenset({"limit", "starting_after", "ending_before", "expand", "created"})


def list_limit(params: dict[str, Any]) -> int:
    limit = params.get("limit", DEFAULT_LIST_LIMIT)
    if limit not in LIST_LIMIT_RANGE:
        raise invalid("This value must be greater than or equal to 1 and less than or equal to 100.", "limit")
    return limit


def created_conditions(created: int | dict[str, int] | None) -> list[Condition]:
    if created is None:
        return []
    if isinstance(created, int):
        return [Condition("created", "=", created)]
    operators = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
    return [Condition("created", operators[bound], value) for bound, value in created.items()]


def merge_metadata(
    current: Mapping[str, str], update: Mapping[str, str] | None, param: str = "metadata"
) -> dict[str, str]:
    """Stripe's metadata rules: `""` deletes a key, a `None` update (`metadata=""`) clears all."""
    if update is None:
        return {}
    merged = dict(current)
    for key, value in update.items():
        if len(key) > METADATA_MAX_KEY_LENGTH:
            raise invalid(
                f"Metadata keys can have up to {METADATA_MAX_KEY_LENGTH} characters; `{key}` has {len(key)}.",
                f"{param}[{key}]",
            )
        if len(value) > METADATA_MAX_VALUE_LENGTH:
            raise invalid(
                f"Metadata values can have up to {METADATA_MAX_VALUE_LENGTH} characters; the value of `{key}` has "
                f"{len(value)}.",
                f"{param}[{key}]",
            )
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    if len(merged) > METADATA_MAX_KEYS:
        raise invalid(
            f"You can have up to {METADATA_MAX_KEYS} metadata keys; this request would leave {len(merged)}.", param
        )
    return merged


def check_collection_method(collection_method: str | None, days_until_due: int | None) -> None:
    """Subscriptions and invoices: `days_until_due` goes with, and only with, `send_invoice`."""
    if days_until_due is not None and collection_method != "send_invoice":
        raise invalid("`days_until_due` can only be set when `collection_method` is `send_invoice`.", "days_until_due")
    if collection_method == "send_invoice" and days_until_due is None:
        raise StripeApiError(
            "Missing required param: days_until_due (required when `collection_method` is `send_invoice`).",
            code="parameter_missing",
            param="days_until_due",
        )


# -- billing periods -------------------------------------------------------------------------------


def add_interval(timestamp: int, interval: str, count: int = 1) -> int:
    """`timestamp` moved by `count` recurring intervals (day/week/month/year), calendar-aware as Stripe bills."""
    start = datetime.fromtimestamp(timestamp, UTC)
    return int((start + relativedelta(**{f"{interval}s": count})).timestamp())


def current_period(anchor: int, interval: str, count: int, now: int) -> tuple[int, int]:
    """The billing period, counted from `anchor`, that contains `now` (the first one before the anchor)."""
    periods = 0
    while add_interval(anchor, interval, count * (periods + 1)) <= now:
        periods += 1
    return add_interval(anchor, interval, count * periods), add_interval(anchor, interval, count * (periods + 1))
