"""The two path languages of the data mapper (spec §1.3, F11), parsed and checked against their catalogues.

A mapping joins a Stripe parameter path (`default_settings.invoice_settings.days_until_due`, `metadata.<key>`)
to a Salesforce field path (`SBQQ__Quote__c.SBQQ__StartDate__c`, walked across one-to-one lookups). Checking
both when the configuration loads turns typos into errors that name the key, instead of silently empty fields
in Stripe. Stripe paths are checked against stripe-python's own create-parameter TypedDicts, so they follow
the pinned API version; Salesforce paths against the object catalogue the sandbox also serves.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import stripe.params as stripe_params
from stripe._request_options import RequestOptions

from sf_stripe_pipeline.salesforce.catalogue import REFERENCE, SOBJECTS

# Mapper object keys (spec §1.3) -> the Salesforce object a mapping's source path starts from.
TARGET_SOURCES: dict[str, str] = {
    "customer": "Account",
    "product": "Product2",
    "price": "PricebookEntry",
    "price_order_item": "OrderItem",
    "subscription_schedule": "Order",
    "subscription_phase": "Order",
    "subscription_item": "OrderItem",
    "coupon": "Order_Stripe_Coupon__c",
    "invoice": "Order",
}

# ... and the stripe-python create parameters its Stripe paths must exist in.
TARGET_PARAMS: dict[str, type] = {
    "customer": stripe_params.CustomerCreateParams,
    "product": stripe_params.ProductCreateParams,
    "price": stripe_params.PriceCreateParams,
    "price_order_item": stripe_params.PriceCreateParams,
    "subscription_schedule": stripe_params.SubscriptionScheduleCreateParams,
    "subscription_phase": stripe_params.SubscriptionScheduleCreateParamsPhase,
    "subscription_item": stripe_params.SubscriptionScheduleCreateParamsPhaseItem,
    "coupon": stripe_params.CouponCreateParams,
    "invoice": stripe_params.InvoiceCreateParams,
}

TERM_PSEUDO_PATH = "iterations"
"""The contract term in months: read by the sync (phase end = start + term), never sent to Stripe."""
PSEUDO_PATHS: dict[str, frozenset[str]] = {
    "subscription_schedule": frozenset({TERM_PSEUDO_PATH}),
    "subscription_phase": frozenset({TERM_PSEUDO_PATH}),
}
_PRICE_RESERVED = frozenset({"product", "product_data", "currency"})
RESERVED_PATHS: dict[str, frozenset[str]] = {
    "subscription_schedule": frozenset({"customer", "customer_account", "phases", "from_subscription"}),
    "subscription_phase": frozenset({"items", "add_invoice_items", "start_date", "end_date", "duration"}),
    "subscription_item": frozenset({"price", "price_data"}),
    "price": _PRICE_RESERVED,
    "price_order_item": _PRICE_RESERVED,
}
"""Top-level parameters the sync builds itself from the contract; a mapping there would corrupt it."""
TERMINATION_PREFIX = "sbc_termination."
"""Mappings applied only when an item or phase is terminated (spec F12); accepted here, used by amendments."""
TERMINATION_TARGETS = frozenset({"subscription_item", "subscription_phase"})

_REQUEST_OPTION_KEYS = frozenset(RequestOptions.__annotations__)
_PARAMS_CLASS_NAME = re.compile(r"\b([A-Z][A-Za-z0-9]*Params[A-Za-z0-9]*)\b")


@cache
def _param_children(params_class: type) -> dict[str, type | str | None]:
    """Parameter name -> nested params class, "map" for free-form string maps (metadata), None for leaves."""
    module = sys.modules[params_class.__module__]
    children: dict[str, type | str | None] = {}
    for name, annotation in params_class.__annotations__.items():
        if name in _REQUEST_OPTION_KEYS or name == "expand":
            continue
        text = repr(annotation)
        nested = _PARAMS_CLASS_NAME.search(text)
        if nested and hasattr(module, nested.group(1)):
            children[name] = getattr(module, nested.group(1))
        elif "Dict[str" in text:
            children[name] = "map"
        else:
            children[name] = None
    return children


def check_stripe_path(target: str, path: str) -> None:
    """Raise ValueError unless `path` is a parameter of the target's Stripe create call (or a known pseudo path)."""
    if target not in TARGET_PARAMS:
        raise ValueError(f"unknown mapping target {target!r}; known targets: {', '.join(TARGET_PARAMS)}")
    if target in TERMINATION_TARGETS and path.startswith(TERMINATION_PREFIX):
        path = path[len(TERMINATION_PREFIX) :]
    if path in PSEUDO_PATHS.get(target, ()):
        return
    segments = path.split(".")
    if not all(segments):
        raise ValueError(f"Stripe path {path!r} has an empty segment")
    if segments[0] in RESERVED_PATHS.get(target, ()):
        raise ValueError(f"{target}.{segments[0]} is set by the sync itself and cannot be mapped")
    params_class: type | str | None = TARGET_PARAMS[target]
    for position, segment in enumerate(segments):
        if params_class == "map":
            key = ".".join(segments[position:])
            if len(key) > 40 or "[" in key or "]" in key:
                raise ValueError(f"metadata key {key!r} must be at most 40 characters without '[' or ']'")
            return
        if not isinstance(params_class, type):
            raise ValueError(f"Stripe parameter {'.'.join(segments[:position])!r} of {target} has no sub-fields")
        children = _param_children(params_class)
        if segment not in children:
            raise ValueError(
                f"unknown Stripe parameter {segment!r} in {path!r} for {target} (known: {', '.join(sorted(children))})"
            )
        params_class = children[segment]
    if params_class == "map":
        raise ValueError(f"Stripe path {path!r} needs a key (e.g. {path}.<key>)")


@dataclass(frozen=True)
class SalesforcePath:
    """A Salesforce field path from a source object: zero or more lookup hops, then a field."""

    source: str
    hops: tuple[tuple[str, str], ...]
    """(object, lookup field) pairs followed in order."""
    field: str
    text: str

    @property
    def target_object(self) -> str:
        if not self.hops:
            return self.source
        sobject, lookup = self.hops[-1]
        return SOBJECTS[sobject].fields[lookup].reference_to or ""

    def resolve(self, org: Any, record: Mapping[str, Any]) -> Any:
        """The value at the end of the path for `record` (None when a lookup on the way is empty)."""
        current: Mapping[str, Any] | None = record
        for sobject, lookup in self.hops:
            reference_to = SOBJECTS[sobject].fields[lookup].reference_to
            current = org.get(reference_to, current.get(lookup)) if current is not None else None
            if current is None:
                return None
        return current.get(self.field)


_WORD_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def snake_case(name: str) -> str:
    """A CamelCase Salesforce name in snake case: `PricebookEntry` -> `pricebook_entry`. Prefixes and suffixes
    (`SBQQ__`, `__c`) are the caller's to strip first."""
    return _WORD_BOUNDARY.sub("_", name).lower()


def _lookup_field_name(sobject: str, segment: str) -> str:
    # Spec §1.3: a non-final segment not ending in `__c`/`Id` gets `Id` appended; relationship names also work.
    spec = SOBJECTS[sobject]
    if segment.endswith("__r") and spec.relationship(segment):
        return spec.relationship(segment).name  # type: ignore[union-attr]
    if segment.endswith("__c") or segment.endswith("Id"):
        return segment
    return segment + "Id"


def parse_salesforce_path(source: str, text: str) -> SalesforcePath:
    """Parse and check a source path against the catalogue; raise ValueError naming the bad segment."""
    segments = text.split(".")
    if not all(segments):
        raise ValueError(f"Salesforce path {text!r} has an empty segment")
    sobject = source
    hops: list[tuple[str, str]] = []
    for segment in segments[:-1]:
        lookup = _lookup_field_name(sobject, segment)
        spec = SOBJECTS[sobject].fields.get(lookup)
        if spec is None or spec.type != REFERENCE or not spec.reference_to:
            raise ValueError(f"{sobject}.{lookup} is not a lookup field, so {text!r} cannot traverse it")
        hops.append((sobject, lookup))
        sobject = spec.reference_to
    if segments[-1] not in SOBJECTS[sobject].fields:
        raise ValueError(f"{sobject} has no field {segments[-1]!r} (path {text!r} from {source})")
    return SalesforcePath(source, tuple(hops), segments[-1], text)
