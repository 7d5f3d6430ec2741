"""Account polling (flag `account_polling`, spec §1.4, F14): Salesforce is the source of truth for customers, so an
already linked account (`Stripe_ID__c` set) edited in Salesforce updates its Stripe customer even when none of its
orders changes.

A partition selects contracts by what changed in their own records (core/contracts.py); an account is shared and
does not select them. With polling on, the contracts already synced for a linked account changed in the window
join the partition: their orders, unchanged, plan nothing, and the customer update is planned from the account
(whatever `update_customers` says, which is what polling is for).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sf_stripe_pipeline.core.contracts import Contract
from sf_stripe_pipeline.core.org import CHANGE_STAMPS, OrgSnapshot, passes_filter


def changed_linked_accounts(org: OrgSnapshot, window: tuple[datetime, datetime]) -> set[str]:
    """Ids of accounts with a Stripe customer (Stripe_ID__c) changed in [start, end), passing the Account filter."""
    return {
        account["Id"]
        for account in org.records("Account")
        if account.get("Stripe_ID__c")
        and not account.get("IsDeleted")
        and passes_filter(account)
        and any(
            (stamp := account.get(field)) is not None and window[0] <= stamp < window[1] for field in CHANGE_STAMPS
        )
    }


def polled_contracts(
    contracts: Iterable[Contract],
    org: OrgSnapshot,
    window: tuple[datetime, datetime],
    *,
    selected: Iterable[Contract] = (),
) -> list[Contract]:
    """F14: the already synced contracts (initial order with a Stripe_ID__c) of the linked accounts changed in the
    window, less those `selected` already, so the partition updates their customers."""
    accounts = changed_linked_accounts(org, window)
    chosen = {contract.key for contract in selected}
    return [
        contract
        for contract in contracts
        if contract.account_id in accounts
        and contract.key not in chosen
        and (org.get("Order", contract.initial_order_id) or {}).get("Stripe_ID__c")
    ]
