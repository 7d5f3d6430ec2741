"""Desired Stripe state: what Stripe should hold for the contracts in scope (F13, F15-F18, F20, F22, F45, F10).

Each contract's objects come from drafting/, for the orders that sync (rules.assess_contracts: every order, or the
orders before a failing amendment); here they are merged across contracts, so one account is one customer, one
Product2 one product and one PricebookEntry one price however many orders use them (F17: price book prices are
reused, order-line prices are per line). A contract none of whose orders syncs contributes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date

from sf_stripe_pipeline.core.config import SyncConfig
from sf_stripe_pipeline.core.contracts import Contract
from sf_stripe_pipeline.core.desired import REF_KEY, STRIPE_OBJECT_ORDER, DesiredObject, ref
from sf_stripe_pipeline.core.org import OrgSnapshot
from sf_stripe_pipeline.core.rules import ContractAssessment, assess_contracts

__all__ = ["REF_KEY", "STRIPE_OBJECT_ORDER", "DesiredObject", "desired_state", "merge_desired", "ref"]


def merge_desired(objects_by_contract: Iterable[Sequence[DesiredObject]]) -> list[DesiredObject]:
    """Each contract's desired objects (in contract order) merged: one object per address, the first contract's
    params, serving every contract that wants it, in dependency order."""
    first_seen: dict[str, DesiredObject] = {}
    serving: dict[str, dict[str, None]] = {}  # address -> contract keys, in order, without repeats
    for objects in objects_by_contract:
        for desired in objects:
            first_seen.setdefault(desired.address, desired)
            serving.setdefault(desired.address, {}).update(dict.fromkeys(desired.contract_keys))
    merged = [replace(desired, contract_keys=tuple(serving[address])) for address, desired in first_seen.items()]
    return sorted(merged, key=lambda d: (STRIPE_OBJECT_ORDER.index(d.stripe_object), d.key))


def desired_state(
    contracts: Iterable[Contract],
    org: OrgSnapshot,
    config: SyncConfig,
    *,
    today: date,
    instance_url: str,
    assessments: Mapping[str, ContractAssessment] | None = None,
) -> list[DesiredObject]:
    """Desired objects of the contracts' synced orders, deduplicated, in dependency order. Pass `assessments` from
    rules.assess_contracts (same org, config, today and instance_url) to avoid validating twice."""
    contracts = list(contracts)
    if assessments is None:
        assessments = assess_contracts(contracts, org, config, today=today, instance_url=instance_url)
    return merge_desired(assessments[contract.key].objects for contract in contracts)
