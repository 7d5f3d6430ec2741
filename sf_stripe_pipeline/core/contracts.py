"""Contracts: the unit of sync, an initial order plus its amendments (spec F5, F29).

CPQ links an amendment to its initial order only indirectly: the amendment's Opportunity names the amended
Contract, whose `SBQQ__Quote__c` is the initial quote, which the initial Order carries. `Order.Type` is not
trusted (admins customise it). A renewal order (quote type Renewal) starts a contract of its own, and so does
an order whose initial cannot be resolved (it is then rejected by validation rather than guessed at).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sf_stripe_pipeline.core.org import OrgSnapshot, passes_filter


@dataclass(frozen=True)
class Contract:
    key: str
    """The initial order's Id (or the order's own Id when it has no resolvable initial)."""
    initial_order_id: str
    amendment_order_ids: tuple[str, ...]
    """Ordered by quote start date, then LastModifiedDate."""
    account_id: str | None

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
    """Every order grouped into its contract, contracts ordered by key."""
    amendments: defaultdict[str, list[dict]] = defaultdict(list)
    initial_ids: list[str] = []
    for order in org.records("Order"):
        initial = initial_order_of(org, order) if amended_contract_id(org, order) else None
        if initial is None:
            initial_ids.append(order["Id"])
        else:
            amendments[initial["Id"]].append(order)
    contracts = []
    for order_id in sorted(initial_ids):
        ordered = sorted(amendments.get(order_id, []), key=lambda order: _amendment_sort_key(org, order))
        account_id = org.get("Order", order_id).get("AccountId")  # type: ignore[union-attr]
        contracts.append(Contract(order_id, order_id, tuple(order["Id"] for order in ordered), account_id))
    return contracts


def _activated_in(order: dict, window: tuple[datetime, datetime]) -> bool:
    activated = order.get("ActivatedDate")
    return activated is not None and window[0] <= activated < window[1]


def contracts_in_scope(
    contracts: Iterable[Contract],
    org: OrgSnapshot,
    *,
    window: tuple[datetime, datetime] | None = None,
    order_ids: Collection[str] | None = None,
) -> list[Contract]:
    """Contracts to sync now. Only orders passing the Order filter select their contract (F4); each given
    criterion narrows: `window` [start, end) on Order.ActivatedDate, `order_ids` on initial or amendment Ids."""
    wanted = set(order_ids) if order_ids is not None else None
    selected = []
    for contract in contracts:
        orders = [org.get("Order", order_id) for order_id in contract.order_ids]
        eligible = [order for order in orders if order is not None and passes_filter(order)]
        if window is not None:
            eligible = [order for order in eligible if _activated_in(order, window)]
        if wanted is not None:
            eligible = [order for order in eligible if order["Id"] in wanted]
        if eligible:
            selected.append(contract)
    return selected
