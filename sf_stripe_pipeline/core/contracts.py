"""Contracts: the unit of sync, an initial order plus its amendments (spec F5, F29), and which of them a run syncs.

CPQ links an amendment to its initial order only indirectly: the amendment's Opportunity names the amended
Contract, whose `SBQQ__Quote__c` is the initial quote, which the initial Order carries. `Order.Type` is not
trusted (admins customise it). A renewal order (quote type Renewal) starts a contract of its own, and so does
an order whose initial cannot be resolved (it is then rejected by validation rather than guessed at), and so do
order lines whose Order is not in the org (rejected as such).

Scope (spec F1, F2): a run selects the contracts whose records *changed* in its window, as the connector polls
orders by LastModifiedDate. A contract is made of its orders, their lines, their quotes and their coupon
snapshots (Order_Stripe_Coupon__c): the records one contract owns. A change to one of them, or an order's
activation, in the window selects the contract. Shared records (Account, Product2, PricebookEntry, the coupons
on quotes) do not: a price book edit does not re-sync every contract that ever used it (a backfill does). So a
daily partition means "the contracts that were activated or changed that day (UTC)", and an order activated
before the sync's start date but changed after it is selected, then rejected as pre-integration (F2) rather
than ignored.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sf_stripe_pipeline.core.coupons import SNAPSHOT
from sf_stripe_pipeline.core.org import CHANGE_STAMPS, OrgSnapshot, passes_filter



@dataclass(frozen=True)
class Contract:
    key: str
    """The initial order's Id (or the order's own Id when it has no resolvable initial)."""
    initial_order_id: str
    amendment_order_ids: tuple[str, ...]
    """Ordered by quote start date, then LastModifiedDate."""
    account_id: str | None
    held_order_ids: tuple[str, ...] = ()
    """When only a prefix of the contract is drafted (an amendment fails), the activated orders after it: they exist in
    Salesforce, so facts CPQ keeps about the latest amendment (MDQ's SBQQ__AmendmentStartDate__c) belong to them."""

    @property
    def order_ids(self) -> tuple[str, ...]:
        return (self.initial_order_id, *self.amendment_order_ids)


def quote_of(org: OrgSnapshot, order: dict) -> dict | None:
    return org.get("SBQQ__Quote__c", order.get("SBQQ__Quote__c"))


def is_renewal(org: OrgSnapshot, order: dict) -> bool:
    quote = quote_of(org, order)
    return quote is not None and quote.get("SBQQ__Type__c") == "Renewal"


def amended_contract_id(org: OrgSnapshot, order: dict) -> str | None:
    """The Contract an order amends (spec F5: the amendment signal), None for initial and renewal orders."""
    if is_renewal(org, order):
        return None
    opportunity = org.get("Opportunity", order.get("OpportunityId"))
    return opportunity.get("SBQQ__AmendedContract__c") if opportunity else None


def initial_order_of(org: OrgSnapshot, order: dict) -> dict | None:
    """The initial order an amendment belongs to: the one non-amendment order on the contract's quote."""
    contract = org.get("Contract", amended_contract_id(org, order))
    if contract is None or contract.get("SBQQ__Quote__c") is None:
        return None
    candidates = [
        candidate
        for candidate in org.children("Order", "SBQQ__Quote__c", contract["SBQQ__Quote__c"])
        if amended_contract_id(org, candidate) is None
    ]
    return candidates[0] if len(candidates) == 1 else None


def _amendment_sort_key(org: OrgSnapshot, order: dict) -> tuple:
    quote = quote_of(org, order) or {}
    return (
        quote.get("SBQQ__StartDate__c") or date.max,
        order.get("LastModifiedDate") or datetime.max.replace(tzinfo=UTC),
        order["Id"],
    )


def build_contracts(org: OrgSnapshot) -> list[Contract]:
    """Every order grouped into its contract, contracts ordered by key; lines whose Order is missing from the org
    form a contract of their own under that Order's Id (with no account), so validation can name them."""
    amendments: defaultdict[str, list[dict]] = defaultdict(list)
    initial_ids: list[str] = []
    for order in org.records("Order"):
        initial = initial_order_of(org, order) if amended_contract_id(org, order) else None
        if initial is None:
            initial_ids.append(order["Id"])
        else:
            amendments[initial["Id"]].append(order)
    missing_orders = {
        line["OrderId"]
        for line in org.records("OrderItem")
        if line.get("OrderId") and org.get("Order", line["OrderId"]) is None
    }
    contracts = []
    for order_id in sorted([*initial_ids, *missing_orders]):
        ordered = sorted(amendments.get(order_id, []), key=lambda order: _amendment_sort_key(org, order))
        account_id = (org.get("Order", order_id) or {}).get("AccountId")
        contracts.append(Contract(order_id, order_id, tuple(order["Id"] for order in ordered), account_id))
    return contracts


def _contract_key_of(org: OrgSnapshot, order_id: str) -> str:
    """The key of the contract `build_contracts` puts an order in: its initial order's Id, or its own."""
    order = org.get("Order", order_id)
    initial = initial_order_of(org, order) if order is not None and amended_contract_id(org, order) else None
    return order_id if initial is None else initial["Id"]


def _amendments_of(org: OrgSnapshot, initial: dict) -> list[dict]:
    """The orders whose initial order is `initial`: those amending a Contract made from its quote."""
    found = []
    for contract in org.children("Contract", "SBQQ__Quote__c", initial.get("SBQQ__Quote__c")):
        for opportunity in org.children("Opportunity", "SBQQ__AmendedContract__c", contract["Id"]):
            for order in org.children("Order", "OpportunityId", opportunity["Id"]):
                if amended_contract_id(org, order) and (initial_order_of(org, order) or {}).get("Id") == initial["Id"]:
                    found.append(order)
    return found


def contracts_of(org: OrgSnapshot, order_ids: Iterable[str]) -> list[Contract]:
    """The contracts of `order_ids` (initial or amendment orders), ordered by key, as `build_contracts` makes them,
    reading only the records that link those orders: the org's other orders are never listed. An Id with lines but
    no Order is a contract of its own, as there."""
    contracts = []
    for key in sorted({_contract_key_of(org, order_id) for order_id in order_ids if order_id}):
        initial = org.get("Order", key)
        if initial is None and not org.children("OrderItem", "OrderId", key):
            continue  # no such order, and no lines naming it
        amendments = [] if initial is None else _amendments_of(org, initial)
        ordered = sorted(amendments, key=lambda order: _amendment_sort_key(org, order))
        account_id = (initial or {}).get("AccountId")
        contracts.append(Contract(key, key, tuple(order["Id"] for order in ordered), account_id))
    return contracts


def order_records(org: OrgSnapshot, order_id: str) -> Iterator[dict]:
    """The records one order of a contract is made of: the order, its lines, its quote, its coupon snapshots. (A
    narrow window finds the orders whose records changed in SQL: `warehouse.org.orders_changed_in` follows this.)"""
    order = org.get("Order", order_id)
    lines = org.children("OrderItem", "OrderId", order_id)
    if order is not None:
        yield order
        if (quote := quote_of(org, order)) is not None:
            yield quote
        yield from org.children(SNAPSHOT, "Order__c", order_id)
    for line in lines:
        yield line
        yield from org.children(SNAPSHOT, "Order_Item__c", line["Id"])


def _changed_in(org: OrgSnapshot, order_id: str, window: tuple[datetime, datetime]) -> bool:
    """Was the order activated, or one of its records changed, in [start, end)?"""
    order = org.get("Order", order_id) or {}
    stamps = [order.get("ActivatedDate")]
    stamps += [record.get(field) for record in order_records(org, order_id) for field in CHANGE_STAMPS]
    return any(stamp is not None and window[0] <= stamp < window[1] for stamp in stamps)


def contracts_in_scope(
    contracts: Iterable[Contract],
    org: OrgSnapshot,
    *,
    window: tuple[datetime, datetime] | None = None,
    order_ids: Collection[str] | None = None,
) -> list[Contract]:
    """Contracts to sync now. Only orders passing the Order filter select their contract (F4); each given
    criterion narrows: `window` [start, end) on the activation or last change of an order's records (see the module
    docstring), `order_ids` on initial or amendment Ids."""
    wanted = set(order_ids) if order_ids is not None else None
    selected = []
    for contract in contracts:
        eligible = [
            order_id
            for order_id in contract.order_ids
            if passes_filter(org.get("Order", order_id) or {})  # a missing order's lines are checked as they are
        ]
        if window is not None:
            eligible = [order_id for order_id in eligible if _changed_in(org, order_id, window)]
        if wanted is not None:
            eligible = [order_id for order_id in eligible if order_id in wanted]
        if eligible:
            selected.append(contract)
    return selected
