"""Which objects a sync leaves unread: those of contracts whose every desired object is as it was when the contract
was last wholly in sync (core/unchanged.py)."""

from __future__ import annotations

from dataclasses import replace

from sf_stripe_pipeline.core.desired import DesiredObject
from sf_stripe_pipeline.core.unchanged import (
    LedgerEntry,
    contracts_in_sync,
    desired_digest,
    synced_digests,
    unchanged_objects,
)

from .builders import config


def _obj(stripe_object: str, key: str, contracts: tuple[str, ...], **params) -> DesiredObject:
    return DesiredObject(
        stripe_object=stripe_object, key=key, sf_object="Order", sf_id=key, params=dict(params), linked_stripe_id=None,
        contract_keys=contracts, depends_on=(),
    )


CUSTOMER = _obj("customer", "acct", ("c1", "c2"), name="Acme")
SCHEDULE_1 = _obj("subscription_schedule", "c1", ("c1",), customer={"$ref": "customer:acct"}, end_behavior="release")
SCHEDULE_2 = _obj("subscription_schedule", "c2", ("c2",), customer={"$ref": "customer:acct"}, end_behavior="release")
PRICE_2 = _obj("price", "line2", ("c2",), unit_amount_decimal="10")
DESIRED = [CUSTOMER, SCHEDULE_1, SCHEDULE_2, PRICE_2]


def _digests(objects: list[DesiredObject]) -> dict[str, str]:
    return {obj.address: desired_digest(obj, config()) for obj in objects}


def _ledger_as_synced(objects: list[DesiredObject]) -> dict[str, LedgerEntry]:
    return {obj.address: LedgerEntry(f"id_{obj.key}", desired_digest(obj, config())) for obj in objects}


def test_the_digest_follows_what_is_planned_not_the_salesforce_bookkeeping() -> None:
    base = desired_digest(SCHEDULE_1, config())
    assert desired_digest(replace(SCHEDULE_1, linked_stripe_id="sub_sched_1"), config()) == base
    assert desired_digest(replace(SCHEDULE_1, contract_keys=("c1", "c9"), sf_id="other"), config()) == base
    assert desired_digest(replace(SCHEDULE_1, params={**SCHEDULE_1.params, "end_behavior": "cancel"}), config()) != base
    assert desired_digest(replace(SCHEDULE_1, end_now={"prorate": False}), config()) != base
    assert desired_digest(replace(SCHEDULE_1, cleared_paths=("metadata.x",)), config()) != base
    assert desired_digest(SCHEDULE_1, config(update_customers=False)) != base, "the planner reads that switch"
    assert desired_digest(SCHEDULE_1, config(), "sk_live@https://api.stripe.com") != base, "another Stripe"


def test_contracts_as_last_synced_are_left_unread_with_the_ledger_ids() -> None:
    unchanged = unchanged_objects(DESIRED, _digests(DESIRED), _ledger_as_synced(DESIRED))

    assert unchanged == {obj.address: f"id_{obj.key}" for obj in DESIRED}


def test_one_changed_object_has_its_whole_contract_read_and_shared_objects_with_it() -> None:
    ledger = _ledger_as_synced(DESIRED)
    repriced = replace(PRICE_2, params={"unit_amount_decimal": "12"})
    desired = [CUSTOMER, SCHEDULE_1, SCHEDULE_2, repriced]

    unchanged = unchanged_objects(desired, _digests(desired), ledger)

    # c2 changed: its schedule, its price and the customer it shares with c1 are read; c1's own schedule is not.
    assert unchanged == {SCHEDULE_1.address: "id_c1"}


def test_objects_never_synced_or_written_back_with_another_id_are_read() -> None:
    ledger = _ledger_as_synced(DESIRED)
    del ledger[SCHEDULE_1.address]
    assert set(unchanged_objects(DESIRED, _digests(DESIRED), ledger)) == {SCHEDULE_2.address, PRICE_2.address}

    ledger = _ledger_as_synced(DESIRED)
    pasted = replace(SCHEDULE_2, linked_stripe_id="sub_sched_pasted_by_hand")
    desired = [CUSTOMER, SCHEDULE_1, pasted, PRICE_2]
    assert set(unchanged_objects(desired, _digests(desired), ledger)) == {SCHEDULE_1.address}

    ledger = _ledger_as_synced(DESIRED)
    ledger[CUSTOMER.address] = LedgerEntry("id_acct", None)  # a drift check or a failed run forgot it
    assert unchanged_objects(DESIRED, _digests(DESIRED), ledger) == {}


def test_only_contracts_left_wholly_in_sync_keep_their_digests() -> None:
    in_sync = contracts_in_sync(DESIRED, unsettled=["c2"], noted=[])
    assert in_sync == {"c1"}
    assert contracts_in_sync(DESIRED, unsettled=[], noted=["c1"]) == {"c2"}

    kept = synced_digests(DESIRED, _digests(DESIRED), in_sync)

    assert kept[SCHEDULE_1.address] == desired_digest(SCHEDULE_1, config())
    assert kept[CUSTOMER.address] is None, "shared with c2, which did not finish"
    assert kept[SCHEDULE_2.address] is None and kept[PRICE_2.address] is None
