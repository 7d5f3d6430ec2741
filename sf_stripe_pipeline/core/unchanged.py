"""Which desired objects a run can leave unread: the contracts unchanged since they were last in sync.

A sync compares what Salesforce wants with what Stripe holds. Reading Stripe for every contract in scope costs one
request per object (or page), whatever changed; so, as reverse-ETL tools do with a checksum per synced row, the
ledger keeps the digest of each desired object as it stood when its contracts were last wholly in sync (every
operation applied, no note). A contract whose desired objects all still have that digest, and the Stripe ids the
ledger knows, needs nothing: its objects are not read and the plan leaves them alone.

The unit is the contract, not the object: a schedule is planned against its customer and prices, and an invoice of
prorations against its schedule, so one changed object of a contract has every object of that contract read.
Edits made by hand in Stripe to an unchanged contract are what the drift check finds (`stripe/stripe_drift`); it
forgets the digests of what drifted, so the next sync reads and corrects them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sf_stripe_pipeline.core.config import SyncConfig
from sf_stripe_pipeline.core.desired import DesiredObject
from sf_stripe_pipeline.core.plan import canonical_json


@dataclass(frozen=True)
class LedgerEntry:
    stripe_id: str
    synced_digest: str | None
    """The object's `desired_digest` when its contracts were last wholly in sync; None: read it next time."""


def desired_digest(desired: DesiredObject, config: SyncConfig | None = None, stripe_target: str = "") -> str:
    """What the plan of one object depends on besides Stripe: its parameters, what it clears, how it ends, what it
    needs, the config switches the planner reads, and which Stripe it syncs to (`stripe_target`: pointed at another
    account, nothing is trusted). Not the Salesforce bookkeeping (its record, its contracts, the Stripe id written
    back, which the ledger's id supersedes)."""
    switches = (config.update_customers, config.update_products, config.account_polling) if config else None
    planned = [
        desired.stripe_object, desired.key, desired.params, sorted(desired.cleared_paths), desired.end_now,
        sorted(desired.depends_on), switches, stripe_target,
    ]  # fmt: skip
    return hashlib.sha256(canonical_json(planned).encode()).hexdigest()


def unchanged_objects(
    desired: Sequence[DesiredObject], digests: Mapping[str, str], ledger: Mapping[str, LedgerEntry]
) -> dict[str, str]:
    """Address -> Stripe id of the desired objects whose every contract is unchanged: each of the contract's objects
    has the ledger's id (and no other id written back on Salesforce) and its digest as last in sync."""
    changed_contracts: set[str] = set()
    for obj in desired:
        entry = ledger.get(obj.address)
        trusted = (
            entry is not None
            and entry.synced_digest == digests[obj.address]
            and obj.linked_stripe_id in (None, entry.stripe_id)
        )
        if not trusted:
            changed_contracts.update(obj.contract_keys)
    return {
        obj.address: ledger[obj.address].stripe_id
        for obj in desired
        if obj.contract_keys and not changed_contracts.intersection(obj.contract_keys)
    }


def contracts_in_sync(
    desired: Iterable[DesiredObject], unsettled: Iterable[str], noted: Iterable[str]
) -> set[str]:
    """The contracts of `desired` that a run left wholly in sync: none of their operations failed, was skipped or was
    not tried (`unsettled`, contract keys) and none has a planning note (`noted`: it was reported, not synced)."""
    out_of_sync = set(unsettled) | set(noted)
    return {key for obj in desired for key in obj.contract_keys} - out_of_sync


def synced_digests(
    desired: Iterable[DesiredObject], digests: Mapping[str, str], in_sync: set[str]
) -> dict[str, str | None]:
    """Address -> the digest the ledger keeps for it after the run: its digest when all its contracts are in sync,
    else None (read it next time)."""
    return {
        obj.address: digests.get(obj.address) if obj.contract_keys and set(obj.contract_keys) <= in_sync else None
        for obj in desired
    }
