"""The resources the sandbox serves, the routes derived from them, and `expand[]`.

Routes follow Stripe's v1 conventions from each resource's SDK class URL; an endpoint is served only if
stripe-python has a params class for it (`{Resource}{Operation}Params`), which is also what validates it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .base import Context, Resource, StripeObject
from .billing import INVOICE_ITEMS, INVOICES, SUBSCRIPTION_ITEMS, SUBSCRIPTION_SCHEDULES, SUBSCRIPTIONS
from .catalog import COUPONS, CUSTOMERS, PRICES, PRODUCTS
from .errors import StripeApiError, invalid
from .params import params_class

RESOURCES: tuple[Resource, ...] = (
    CUSTOMERS,
    PRODUCTS,
    PRICES,
    COUPONS,
    SUBSCRIPTIONS,
    SUBSCRIPTION_ITEMS,
    SUBSCRIPTION_SCHEDULES,
    INVOICE_ITEMS,
    INVOICES,
)
_BY_OBJECT_NAME = {resource.object_name: resource for resource in RESOURCES}
_BY_URL = {resource.url: resource for resource in RESOURCES}
MAX_EXPAND_DEPTH = 4


@dataclass(frozen=True)
class Route:
    resource: Resource
    operation: str
    object_id: str | None
    params_cls: type


def resolve_route(method: str, path: str) -> Route:
    """`POST /v1/subscription_schedules/sub_sched_1/release` -> (schedules, "release", "sub_sched_1", ...)."""
    parts = path.strip("/").split("/")
    resource, rest = _BY_URL.get("/" + "/".join(parts[:2])), parts[2:]
    if resource is not None and method == "GET" and rest == ["search"]:  # before `GET {url}/{id}`
        params_cls = params_class(resource.name, "search")
        if params_cls is not None:
            return Route(resource, "search", None, params_cls)
    operation = _operation(resource, method, rest) if resource else None
    params_cls = params_class(resource.name, operation) if resource and operation else None
    if resource is None or operation is None or params_cls is None:
        raise StripeApiError(
            f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we can help at "
            "https://support.stripe.com/.",
            status=404,
        )
    return Route(resource, operation, rest[0] if rest else None, params_cls)


def _operation(resource: Resource, method: str, rest: list[str]) -> str | None:
    if not rest:
        return {"GET": "list", "POST": "create"}.get(method)
    if len(rest) == 1:
        return {"GET": "retrieve", "POST": "update", "DELETE": resource.delete_operation}.get(method)
    if len(rest) == 2 and method == "POST":
        return resource.actions.get(rest[1])
    return None


def expand(ctx: Context, response: StripeObject, paths: list[str]) -> StripeObject:
    """Replace id-valued fields named by `expand[]` (`customer`, `data.customer`, `items.data.price`, ...)."""
    for path in paths:
        parts = path.split(".")
        if len(parts) > MAX_EXPAND_DEPTH + 1:  # `data.` on lists does not count towards the depth
            raise invalid(f"You cannot expand more than {MAX_EXPAND_DEPTH} levels of a property ({path}).", "expand")
        _expand_at(ctx, response, parts, path)
    return response


def _expand_at(ctx: Context, node: Any, parts: list[str], path: str) -> None:
    if isinstance(node, list):
        for element in node:
            _expand_at(ctx, element, parts, path)
        return
    field, rest = parts[0], parts[1:]
    if isinstance(node, dict) and field not in node:
        _include(ctx, node, field)
    if not isinstance(node, dict) or field not in node:
        raise invalid(f"This property cannot be expanded ({path}).", "expand")
    value = node[field]
    if isinstance(value, str):
        node[field] = value = _fetch(ctx, field, value)
    elif isinstance(value, list) and rest == [] and all(isinstance(element, str) for element in value):
        node[field] = [_fetch(ctx, field, element) for element in value]
    if rest and value is not None:
        _expand_at(ctx, value, rest, path)


def _include(ctx: Context, node: StripeObject, field: str) -> None:
    """Add a field Stripe returns only on request (`Resource.includable`) from the stored object."""
    resource = _BY_OBJECT_NAME.get(node.get("object", ""))
    if resource is None or field not in resource.includable or "id" not in node:
        return
    stored = ctx.store.get(resource.object_name, node["id"])
    if stored is not None:
        node[field] = stored.get(field)


def _fetch(ctx: Context, field: str, object_id: str) -> StripeObject | str:
    """The object an id names; custom ids may repeat across types, so prefer the type the field is named after."""
    candidates = ctx.store.find_by_id(object_id)
    if not candidates:
        return object_id
    singular = field.removesuffix("s")
    obj = next((candidate for candidate in candidates if singular.endswith(candidate["object"])), candidates[0])
    resource = _BY_OBJECT_NAME.get(obj["object"])
    return resource.render(ctx, resource.refresh(ctx, obj)) if resource else obj
