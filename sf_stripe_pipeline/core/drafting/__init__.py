"""Translation of one contract into desired Stripe objects, collecting every data problem on the way.

A contract (initial order + activated amendments) is drafted by the drafter of its kind, chosen from the initial
order's billable lines:
- evergreen.py: any Evergreen line -> a subscription (F39, F40);
- one_time.py: only one-time lines -> an invoice (F26);
- mdq.py: any line with a price dimension -> a schedule with one phase per segment (F41, F42);
- renewable.py: otherwise -> a fixed-term schedule, amended and terminated (F22-F38).
mdq.py and renewable.py share schedule.py; all kinds share drafter.py (problems, mapping, customer, products,
coupons, prices, line entries). Validation reports the problems; translation keeps the objects of contracts
that have none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sf_stripe_pipeline.core.contracts import Contract
from sf_stripe_pipeline.core.drafting.drafter import (
    DESCRIPTION_LIMIT,
    METADATA_PREFIX,
    PAYMENT_TERM_PATHS,
    PRORATE_MULTIPLIER_TOLERANCE,
    SHIPPING_PHONE_LIMIT,
    USAGE_TYPES,
    ContractDraft,
    ContractDrafter,
    PriceCandidate,
    TranslationContext,
    billable_lines,
    metadata_type_name,
)
from sf_stripe_pipeline.core.drafting.evergreen import SUBSCRIPTION_CANCEL, EvergreenDrafter
from sf_stripe_pipeline.core.drafting.mdq import MdqDrafter, is_mdq_order
from sf_stripe_pipeline.core.drafting.migration import activated_before_start
from sf_stripe_pipeline.core.drafting.one_time import OneTimeInvoiceDrafter
from sf_stripe_pipeline.core.drafting.renewable import MAX_RECURRING_LINES, RenewableDrafter
from sf_stripe_pipeline.core.drafting.schedule import REFRESHED_SCHEDULE_PATHS, SCHEDULE_CANCEL
from sf_stripe_pipeline.core.mapping import BILLING_FREQUENCY_MONTHS

__all__ = [
    "BILLING_FREQUENCY_MONTHS",
    "DESCRIPTION_LIMIT",
    "MAX_RECURRING_LINES",
    "METADATA_PREFIX",
    "PAYMENT_TERM_PATHS",
    "PRORATE_MULTIPLIER_TOLERANCE",
    "REFRESHED_SCHEDULE_PATHS",
    "SCHEDULE_CANCEL",
    "SHIPPING_PHONE_LIMIT",
    "SUBSCRIPTION_CANCEL",
    "USAGE_TYPES",
    "ContractDraft",
    "PriceCandidate",
    "TranslationContext",
    "draft_contract",
    "drafter_for",
    "metadata_type_name",
]


def drafter_for(lines: Sequence[Mapping[str, Any]]) -> type[ContractDrafter]:
    """The drafter of a contract whose initial order has these billable lines."""
    if any(line.get("SBQQ__SubscriptionType__c") == "Evergreen" for line in lines):
        return EvergreenDrafter
    if lines and all(line.get("SBQQ__SubscriptionPricing__c") is None for line in lines):
        return OneTimeInvoiceDrafter
    if is_mdq_order(lines):
        return MdqDrafter
    return RenewableDrafter


def draft_contract(context: TranslationContext, contract: Contract) -> ContractDraft:
    """Desired objects and data problems of a contract; nothing when its initial order or account is missing."""
    org = context.org
    order = org.get("Order", contract.initial_order_id)
    account = org.get("Account", contract.account_id)
    if order is None or account is None:
        return ContractDraft()
    amendments = [  # a draft amendment is not part of the contract until it is activated (spec 1.1)
        found
        for order_id in contract.amendment_order_ids
        if (found := org.get("Order", order_id)) and found.get("Status") == "Activated"
    ]
    kind = drafter_for(billable_lines(org, order))
    drafter = kind(context, contract)
    if context.config.old_order_migration and kind is not RenewableDrafter and activated_before_start(order, context.config):
        drafter.problem(
            "pre_integration_order",
            "Order",
            order["Id"],
            f"activated {order['ActivatedDate'].isoformat()}, before the sync start date {context.config.start_date}: "
            "old_order_migration migrates renewable orders only (F33), so this pre-integration order is not synced",
        )
    drafter.customer(account)
    drafter.draft_orders(order, amendments)
    return drafter.draft
