"""The end state of a sync, in a form two runs can be compared by: every Stripe object named by what it stands for
(its `salesforce_sync_key`), every Salesforce write-back and Sync_Record__c status, read through the real clients.

Stripe ids differ from run to run, so each id is replaced by the name of the object it points at, and what Stripe
stamps per request (ids of nested items, creation times, times taken from "now") is left out. What is left is what
bills the customer: amounts, prices, quantities, phases, customers, discounts, statuses.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import stripe
from simple_salesforce import Salesforce

from sf_stripe_pipeline.stripe.lookup import SYNC_KEY
from sf_stripe_pipeline.stripe.objects import SERVICES

LIST_PARAMS = {"subscriptions": {"status": "all"}}
STRIPE_ID = re.compile(r"^(cus|prod|price|sub_sched|sub|si|ii|in|il|di|co|cpn)_[A-Za-z0-9]+$")
VOLATILE = frozenset(
    {"id", "created", "number", "hosted_invoice_url", "invoice_pdf", "status_transitions", "due_date", "date",
     "webhooks_delivered_at", "period_start", "period_end", "next_payment_attempt", "automatically_finalizes_at",
     "effective_at", "last_response", "receipt_number", "invoice_prefix", "url", "updated"}
)
"""Stamped by Stripe per request or from the clock, not from Salesforce (numbers follow finalization order)."""
PER_SNAPSHOT_METADATA = ("salesforce_order_stripe_coupon_id", "salesforce_order_stripe_coupon_link")
"""Coupon metadata naming Salesforce snapshot records, whose Ids depend on the order they were made in."""
WRITE_BACK_OBJECTS = ("Account", "Product2", "PricebookEntry", "Order", "OrderItem", "Quote_Stripe_Coupon__c")


@dataclass
class SyncState:
    stripe: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Object name -> the object, normalised."""
    duplicates: dict[str, int] = field(default_factory=dict)
    """Object names held by more than one live Stripe object, and how many."""
    write_backs: dict[str, str | None] = field(default_factory=dict)
    """`<sobject>/<Id>` -> the name of the Stripe object its Stripe_ID__c names."""
    snapshots: Counter[str] = field(default_factory=Counter)
    """Order_Stripe_Coupon__c records per (parent, coupon): more than one is a duplicate."""
    snapshot_write_backs: dict[str, str | None] = field(default_factory=dict)
    sync_records: dict[str, str] = field(default_factory=dict)
    """Compound_ID__c -> Resolution_Status__c."""

    def differences(self, expected: SyncState) -> list[str]:
        """What differs from `expected` (a clean run from the same org), as readable lines; [] when equal. Extra
        Resolved sync records are fine: they are the errors of interrupted runs, resolved."""
        problems = [f"duplicate Stripe objects: {name} x{count}" for name, count in sorted(self.duplicates.items())]
        problems += [f"duplicate coupon snapshot {key} x{count}" for key, count in self.snapshots.items() if count > 1]
        for name in sorted(set(expected.stripe) | set(self.stripe)):
            if name not in self.stripe:
                problems.append(f"missing in Stripe: {name}")
            elif name not in expected.stripe:
                problems.append(f"extra in Stripe: {name} {self.stripe[name]}")
            elif self.stripe[name] != expected.stripe[name]:
                problems.append(f"differs in Stripe: {name}: {'; '.join(_diff(self.stripe[name], expected.stripe[name]))}")
        for label, actual, wanted in (
            ("Stripe_ID__c", self.write_backs, expected.write_backs),
            ("snapshot Stripe_ID__c", self.snapshot_write_backs, expected.snapshot_write_backs),
        ):
            for record in sorted(set(actual) | set(wanted)):
                if actual.get(record) != wanted.get(record):
                    problems.append(f"{label} of {record}: {actual.get(record)} != {wanted.get(record)}")
        for compound in sorted(set(self.sync_records) | set(expected.sync_records)):
            status, wanted_status = self.sync_records.get(compound), expected.sync_records.get(compound)
            if status != wanted_status and not (wanted_status is None and status == "Resolved"):
                problems.append(f"Sync_Record__c {compound}: {status} != {wanted_status}")
        return problems


def _diff(actual: Any, expected: Any, path: str = "") -> list[str]:
    """The paths where two normalised objects differ, with both values."""
    if isinstance(actual, dict) and isinstance(expected, dict):
        return [line for key in sorted(set(actual) | set(expected)) for line in _diff(actual.get(key), expected.get(key), f"{path}.{key}")]
    if isinstance(actual, list) and isinstance(expected, list) and len(actual) == len(expected):
        return [line for n, (a, e) in enumerate(zip(actual, expected)) for line in _diff(a, e, f"{path}[{n}]")]
    return [] if actual == expected else [f"{path or '.'}: {actual!r} != {expected!r}"]


def _metadata(value: Mapping[str, Any]) -> str | None:
    return (value.get("metadata") or {}).get(SYNC_KEY)


def _normalised(value: Any, names: Mapping[str, str]) -> Any:
    if isinstance(value, dict):
        result = {}
        for key, item in sorted(value.items()):
            if key in VOLATILE or key.endswith("_at"):
                continue
            if key == "metadata" and isinstance(item, dict):
                item = {k: v for k, v in item.items() if k not in PER_SNAPSHOT_METADATA}
            result[key] = _normalised(item, names)
        return result
    if isinstance(value, list):
        return [_normalised(item, names) for item in value]
    if isinstance(value, str):
        if value in names:
            return names[value]
        return "<id>" if STRIPE_ID.match(value) else value
    return value


def _unkeyed_name(obj: Mapping[str, Any]) -> str:
    """A name for an object the sync did not key (e.g. the pending invoice item Stripe makes from a schedule phase's
    `add_invoice_items`) that is the same in two runs: its name, else the Salesforce ids in its metadata."""
    salesforce = sorted(f"{k}={v}" for k, v in (obj.get("metadata") or {}).items() if k.endswith("_id"))
    return obj.get("name") or " ".join(salesforce) or obj["id"]


def stripe_state(client: stripe.StripeClient) -> tuple[dict[str, dict[str, Any]], dict[str, int], dict[str, str]]:
    """Every live object the sync could have made, by name; the duplicated names; id -> name."""
    objects: dict[str, list[dict[str, Any]]] = {}
    for stripe_object, service_name in SERVICES.items():
        service = getattr(client.v1, service_name)
        listing = service.list({"limit": 100, **LIST_PARAMS.get(service_name, {})})
        objects[stripe_object] = [obj.to_dict() for obj in listing.auto_paging_iter()]
    names: dict[str, str] = {}
    for found in objects.values():
        for obj in found:
            if key := _metadata(obj):
                names[obj["id"]] = key
    for schedule in objects["subscription_schedule"]:  # a schedule makes its subscription
        if schedule.get("subscription") and schedule["id"] in names:
            names[schedule["subscription"]] = f"subscription of {names[schedule['id']]}"
    counts: Counter[str] = Counter()
    state: dict[str, dict[str, Any]] = {}
    for stripe_object, found in objects.items():
        for obj in found:
            name = names.get(obj["id"]) or f"{stripe_object} without sync key {_unkeyed_name(obj)}"
            counts[name] += 1
            state[name] = _normalised(obj, names)
    duplicates = {name: count for name, count in counts.items() if count > 1}
    return state, duplicates, names


def sync_state(client: stripe.StripeClient, sf: Salesforce) -> SyncState:
    objects, duplicates, names = stripe_state(client)
    state = SyncState(stripe=objects, duplicates=duplicates)
    for sobject in WRITE_BACK_OBJECTS:
        for record in sf.query_all_iter(f"SELECT Id, Stripe_ID__c FROM {sobject}"):
            if record["Stripe_ID__c"]:
                state.write_backs[f"{sobject}/{record['Id']}"] = names.get(record["Stripe_ID__c"], record["Stripe_ID__c"])
    for record in sf.query_all_iter(
        "SELECT Id, Order__c, Order_Item__c, Quote_Stripe_Coupon_Id__c, Stripe_ID__c FROM Order_Stripe_Coupon__c"
    ):
        key = f"{record['Order__c'] or record['Order_Item__c']}-{record['Quote_Stripe_Coupon_Id__c']}"
        state.snapshots[key] += 1
        state.snapshot_write_backs[key] = names.get(record["Stripe_ID__c"] or "", record["Stripe_ID__c"])
    for record in sf.query_all_iter("SELECT Compound_ID__c, Resolution_Status__c FROM Sync_Record__c"):
        state.sync_records[record["Compound_ID__c"]] = record["Resolution_Status__c"]
    return state
