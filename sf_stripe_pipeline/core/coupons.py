"""Coupons (F43, F44): Salesforce coupon snapshots, and one Stripe coupon per Salesforce coupon *version*.

A rep authors `Quote_Stripe_Coupon__c` records and associates them with a quote or its lines. At activation the
connector's package copies them onto the order (`Order_Stripe_Coupon__c`, linked to the Order or the OrderItem);
orders that already have snapshots are left alone, which makes the copy idempotent. The sync plays that part: the
snapshots an order lacks are a pure output here, which the shell creates in Salesforce.

Stripe coupons cannot change their terms, so each distinct set of terms of a Salesforce coupon is its own Stripe
coupon, keyed by the Salesforce coupon and a digest of its terms: the same coupon reused on many orders is one
Stripe coupon, and a modified one is a new Stripe coupon, never an update.

The snapshots the sync makes carry a deterministic external id, `Snapshot_Key__c` (`<Order or OrderItem Id>-<Quote
coupon Id>`, `-2`, `-3`… for the same coupon twice), and are upserted by it: a re-run after a crash finds the
snapshot it made instead of making a second one (and a second Stripe coupon naming it). A copy the sync made (every
snapshot of the order carries the key) is completed if a crash interrupted it; a copy the activation trigger made
is used as it is.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sf_stripe_pipeline.core.org import OrgSnapshot, without_change_stamps

SNAPSHOT = "Order_Stripe_Coupon__c"
SNAPSHOT_REF, SNAPSHOT_LINK_REF = "order_stripe_coupon", "order_stripe_coupon_link"
"""Refs to a snapshot created in this run (its Id, its Salesforce link), resolved by the shell once it exists."""
SNAPSHOT_KEY = "Snapshot_Key__c"
"""The external id of the snapshots the sync makes."""
QUOTE_COUPON = "Quote_Stripe_Coupon__c"
VALUE_FIELDS = (
    "Name__c",
    "Amount_Off__c",
    "Percent_Off__c",
    "Duration__c",
    "Duration_In_Months__c",
    "Max_Redemptions__c",
    "CurrencyIsoCode",
)
COUNT_MISMATCH = (
    "different number of Quote or Quote Line Associations than Order or Order Item coupons: {associations} "
    "association(s) on {source}, {snapshots} Order_Stripe_Coupon__c record(s) on this record"
)


def version_key(quote_coupon_id: str, params: Mapping[str, Any]) -> str:
    """The Stripe coupon's key: its Salesforce coupon and a digest of the terms it was created with."""
    terms = {key: value for key, value in params.items() if key != "metadata"}
    digest = hashlib.sha256(json.dumps(terms, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return f"{quote_coupon_id}-{digest}"


@dataclass(frozen=True)
class CouponUse:
    """One coupon on an order or order line: its snapshot (existing, or the one to create) and its source."""

    snapshot: dict
    """The Order_Stripe_Coupon__c; without "Id" when it does not exist yet."""
    quote_coupon: dict | None

    @property
    def exists(self) -> bool:
        return bool(self.snapshot.get("Id"))

    @property
    def snapshot_key(self) -> str:
        """Stable identity of a snapshot before it has an Id: its Order or OrderItem and its source coupon."""
        if self.snapshot.get(SNAPSHOT_KEY):
            return self.snapshot[SNAPSHOT_KEY]
        parent = self.snapshot.get("Order__c") or self.snapshot.get("Order_Item__c")
        return f"{parent}-{self.snapshot.get('Quote_Stripe_Coupon_Id__c')}"


@dataclass(frozen=True)
class CouponsOf:
    """The coupons of one Order or OrderItem, or why they cannot be trusted."""

    uses: list[CouponUse]
    problem: str | None = None


def snapshot_of(quote_coupon: Mapping[str, Any], link_field: str, record_id: str) -> dict:
    return {
        link_field: record_id,
        "Quote_Stripe_Coupon_Id__c": quote_coupon["Id"],
        **{field: quote_coupon.get(field) for field in VALUE_FIELDS},
    }


def _associated(org: OrgSnapshot, junction: str, parent_field: str, parent_id: str | None) -> list[dict]:
    if parent_id is None:
        return []
    rows = sorted(org.children(junction, parent_field, parent_id), key=lambda row: row["Id"])  # as associated
    return [coupon for row in rows if (coupon := org.get(QUOTE_COUPON, row.get("Quote_Stripe_Coupon__c")))]


def _snapshots_of_order(org: OrgSnapshot, order: Mapping[str, Any]) -> list[dict]:
    lines = org.children("OrderItem", "OrderId", order["Id"])
    return org.children(SNAPSHOT, "Order__c", order["Id"]) + [
        snapshot for line in lines for snapshot in org.children(SNAPSHOT, "Order_Item__c", line["Id"])
    ]


def _copies(associated: list[dict], link_field: str, record_id: str) -> list[CouponUse]:
    """The snapshots the activation copy makes of `associated` coupons, each with its external id."""
    uses = []
    seen: Counter[str] = Counter()
    for coupon in associated:
        seen[coupon["Id"]] += 1
        key = f"{record_id}-{coupon['Id']}" + (f"-{seen[coupon['Id']]}" if seen[coupon["Id"]] > 1 else "")
        snapshot = {**snapshot_of(coupon, link_field, record_id), SNAPSHOT_KEY: key}
        uses.append(CouponUse(snapshot, without_change_stamps(coupon)))
    return uses


def coupons_of(org: OrgSnapshot, order: Mapping[str, Any], line: Mapping[str, Any] | None = None) -> CouponsOf:
    """The order's (or, with `line`, the line's) coupons: its snapshots if the order has any, else the ones the
    activation copy would make from the quote's (or quote line's) associations."""
    if line is None:
        link_field, record_id = "Order__c", order["Id"]
        associated = _associated(org, "Quote_Stripe_Coupon_Association__c", "Quote__c", order.get("SBQQ__Quote__c"))
        source = f"quote {order.get('SBQQ__Quote__c')}"
    else:
        link_field, record_id = "Order_Item__c", line["Id"]
        quote_line = line.get("SBQQ__QuoteLine__c")
        associated = _associated(org, "Quote_Line_Stripe_Coupon_Association__c", "Quote_Line__c", quote_line)
        source = f"quote line {quote_line}"
    order_snapshots = _snapshots_of_order(org, order)
    if not order_snapshots:
        return CouponsOf(_copies(associated, link_field, record_id))
    snapshots = sorted(org.children(SNAPSHOT, link_field, record_id), key=lambda row: row["Id"])
    uses = []
    for row in snapshots:
        quote_coupon = org.get(QUOTE_COUPON, row.get("Quote_Stripe_Coupon_Id__c"))
        uses.append(CouponUse(without_change_stamps(row), quote_coupon and without_change_stamps(quote_coupon)))
    if all(snapshot.get(SNAPSHOT_KEY) for snapshot in order_snapshots):
        # The sync's own copy: finished if a crash interrupted it, in the associations' order (stacked discounts
        # apply in order, so the order must not depend on which run made which snapshot).
        made = {row[SNAPSHOT_KEY]: use for row, use in zip(snapshots, uses)}
        copies = [made.pop(use.snapshot_key, use) for use in _copies(associated, link_field, record_id)]
        return CouponsOf(copies + list(made.values()))
    if len(snapshots) != len(associated):
        problem = COUNT_MISMATCH.format(associations=len(associated), source=source, snapshots=len(snapshots))
        return CouponsOf(uses, problem)
    return CouponsOf(uses)


@dataclass(frozen=True)
class CouponLink:
    """A coupon use and the Stripe coupon (its desired object's address) that stands for it."""

    use: CouponUse
    address: str
    current_version: bool
    """Whether the Salesforce coupon still has these terms (then its own Stripe_ID__c names this coupon too)."""


def snapshots_to_create(links: list[CouponLink]) -> dict[str, dict]:
    """F43: snapshot key -> the Order_Stripe_Coupon__c to create (orders that have none yet)."""
    return {link.use.snapshot_key: dict(link.use.snapshot) for link in links if not link.use.exists}


def snapshot_refs(created: Mapping[str, str], instance_url: str) -> dict[str, str]:
    """The ref ids of snapshots just created (key -> Salesforce Id), for coupon metadata."""
    refs = {}
    for key, record_id in created.items():
        refs[f"{SNAPSHOT_REF}:{key}"] = record_id
        refs[f"{SNAPSHOT_LINK_REF}:{key}"] = f"{instance_url.rstrip('/')}/{record_id}"
    return refs


def coupon_write_backs(
    links: list[CouponLink], ids: Mapping[str, str], created: Mapping[str, str]
) -> list[tuple[str, str, str]]:
    """F44: (sobject, Id, Stripe id) for the order coupons (snapshots, including those just `created`) and the
    Salesforce coupons whose Stripe_ID__c does not name their Stripe coupon yet."""
    updates: dict[tuple[str, str], str] = {}
    for link in links:
        stripe_id = ids.get(link.address)
        if not stripe_id:
            continue
        snapshot, quote_coupon = link.use.snapshot, link.use.quote_coupon
        snapshot_id = snapshot.get("Id") or created.get(link.use.snapshot_key)
        if snapshot_id and snapshot.get("Stripe_ID__c") != stripe_id:
            updates[(SNAPSHOT, snapshot_id)] = stripe_id
        if quote_coupon and link.current_version and quote_coupon.get("Stripe_ID__c") != stripe_id:
            updates[(QUOTE_COUPON, quote_coupon["Id"])] = stripe_id
    return [(sobject, record_id, stripe_id) for (sobject, record_id), stripe_id in updates.items()]
