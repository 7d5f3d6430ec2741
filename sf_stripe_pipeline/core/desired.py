"""Desired Stripe objects and the symbolic references between them.

Translation runs before anything exists in Stripe, so a schedule cannot name its customer's `cus_...` id yet.
It names the desired object instead (`{"$ref": "customer:<Account Id>"}`); the shell resolves each reference
to the Stripe id when it applies the plan, and `depends_on` orders the work.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

REF_KEY = "$ref"


SUBSCRIPTION_OF = "$subscription_of"
"""`{"$subscription_of": "subscription_schedule:<key>"}`: the subscription a schedule runs, which only Stripe knows;
the planner replaces it with the id it reads on the schedule (F34's proration invoice)."""


def ref(stripe_object: str, key: str) -> dict:
    """A symbolic reference to another desired object, resolved to its Stripe id by the shell at apply time."""
    return {REF_KEY: f"{stripe_object}:{key}"}


def is_ref(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and REF_KEY in value


def refs_in(value: Any) -> list[str]:
    """Every "stripe_object:key" referenced anywhere inside params (in no particular order). A loop, not recursion:
    every drafted object passes here."""
    found: list[str] = []
    pending = [value]
    while pending:
        current = pending.pop()
        if isinstance(current, dict):
            if len(current) == 1 and REF_KEY in current:
                found.append(current[REF_KEY])
            else:
                pending.extend(current.values())
        elif isinstance(current, list):
            pending.extend(current)
    return found


STRIPE_DEPENDENCY_TIERS: tuple[tuple[str, ...], ...] = (
    ("customer", "product", "coupon"),
    ("price",),  # a price needs its product
    ("subscription_schedule", "subscription", "invoice_item"),  # need their customer, prices and coupons
    ("invoice",),  # sweeps in the pending invoice items created before it
)
"""The Stripe objects the sync writes, in tiers: each tier's objects only need objects of earlier tiers."""
STRIPE_OBJECT_ORDER = tuple(stripe_object for tier in STRIPE_DEPENDENCY_TIERS for stripe_object in tier)
STRIPE_OBJECT_TIER = {stripe_object: n for n, tier in enumerate(STRIPE_DEPENDENCY_TIERS) for stripe_object in tier}


@dataclass(frozen=True)
class DesiredObject:
    stripe_object: str
    """One of STRIPE_OBJECT_ORDER."""
    key: str
    """Stable identity: the Salesforce Id it comes from (Account / Product2 / PricebookEntry / OrderItem for
    line prices / initial Order for schedules)."""
    sf_object: str
    sf_id: str
    params: dict
    """Create params in stripe-python TypedDict shape, JSON-serialisable, with refs; metadata back-references."""
    linked_stripe_id: str | None
    """The Stripe_ID__c currently on the Salesforce record, if any (adoption, F6)."""
    contract_keys: tuple[str, ...]
    depends_on: tuple[str, ...]
    """"stripe_object:key" of objects that must exist first (derived from refs)."""
    cleared_paths: tuple[str, ...] = ()
    """Owned parameter paths that are empty in Salesforce: a value left in Stripe there is stale and is cleared."""
    end_now: dict | None = None
    """Salesforce says the object has ended (a termination or cancellation effective today or earlier): the params
    of the call that cancels it now. The planner creates it first if it never existed."""

    @property
    def address(self) -> str:
        """This object's "stripe_object:key", the form refs and `actual` use."""
        return f"{self.stripe_object}:{self.key}"


def replace_refs(value: Any, replacement: Callable[[str], Any]) -> Any:
    """`value` with every `{"$ref": "object:key"}` in it replaced by `replacement("object:key")`."""
    if isinstance(value, dict):
        if is_ref(value):
            return replacement(value[REF_KEY])
        return {name: replace_refs(item, replacement) for name, item in value.items()}
    if isinstance(value, list):
        return [replace_refs(item, replacement) for item in value]
    return value


def with_refs_replaced(desired: DesiredObject, values: Mapping[str, str]) -> DesiredObject:
    """`desired` with each ref that `values` names replaced by its value, and no longer depending on it: the object
    as the next run drafts it once the Salesforce records those refs stand for exist (the order coupon snapshots a
    run creates before its Stripe writes, F43)."""
    params = replace_refs(desired.params, lambda address: values.get(address, {REF_KEY: address}))
    depends_on = tuple(address for address in desired.depends_on if address not in values)
    return dataclasses.replace(desired, params=params, depends_on=depends_on)
