"""F14 account polling (flag account_polling): linked accounts changed in a window bring their synced contracts
into it, so their customers are updated without any order changing; the plan then updates the customer only."""

from __future__ import annotations

from datetime import UTC, datetime

from sf_stripe_pipeline.core.accounts import polled_contracts
from sf_stripe_pipeline.core.contracts import build_contracts, contracts_in_scope
from sf_stripe_pipeline.core.plan import build_plan
from sf_stripe_pipeline.core.rules import assess_contracts
from sf_stripe_pipeline.core.translate import merge_desired

from .builders import INSTANCE_URL, TODAY, OrgBuilder, config
from .test_plan import _stripe_state

WINDOW = (datetime(2025, 3, 10, tzinfo=UTC), datetime(2025, 3, 11, tzinfo=UTC))
CHANGED = "2025-03-10T08:00:00.000+0000"
EARLIER = "2025-02-01T08:00:00.000+0000"


def _org() -> tuple[OrgBuilder, dict[str, dict]]:
    """Five accounts with one order each (activated before the window), and one never synced: linked and
    changed today; linked, unchanged; not linked, changed; linked and changed but filtered out; linked and changed
    with an order never synced."""
    builder = OrgBuilder()
    entry = builder.entry(builder.product(), 10)
    accounts = {
        "changed": builder.account(Stripe_ID__c="cus_1", SystemModstamp=CHANGED, Phone="+1 555 0100"),
        "unchanged": builder.account(Stripe_ID__c="cus_2", SystemModstamp=EARLIER),
        "unlinked": builder.account(SystemModstamp=CHANGED),
        "filtered": builder.account(Stripe_ID__c="cus_4", SystemModstamp=CHANGED, _passes_filter=False),
        "unsynced": builder.account(Stripe_ID__c="cus_5", SystemModstamp=CHANGED),
    }
    for name, account in accounts.items():
        order = builder.order(account, LastModifiedDate=EARLIER, ActivatedDate=EARLIER,
                              Stripe_ID__c=None if name == "unsynced" else f"sub_sched_{name}")  # fmt: skip
        builder.line(order, entry, quantity=2)
    return builder, accounts


def test_only_synced_contracts_of_linked_accounts_changed_in_the_window_are_polled() -> None:
    builder, accounts = _org()
    org = builder.snapshot()
    contracts = build_contracts(org)
    assert contracts_in_scope(contracts, org, window=WINDOW) == []  # no order changed today
    polled = polled_contracts(contracts, org, WINDOW)
    assert [contract.account_id for contract in polled] == [accounts["changed"]["Id"]]
    assert polled_contracts(contracts, org, WINDOW, selected=polled) == []


def test_a_polled_contract_updates_its_customer_and_nothing_else() -> None:
    builder, accounts = _org()
    before = builder.snapshot()
    settings = config(account_polling=True, update_customers=False)
    (contract,) = polled_contracts(build_contracts(before), before, WINDOW)
    assessments = assess_contracts([contract], before, settings, today=TODAY, instance_url=INSTANCE_URL)
    stripe_state = _stripe_state(merge_desired([assessments[contract.key].objects]))
    accounts["changed"]["Phone"] = "+1 555 0199"
    after = builder.snapshot()
    assessments = assess_contracts([contract], after, settings, today=TODAY, instance_url=INSTANCE_URL)
    desired = merge_desired([assessments[contract.key].objects])
    (update,) = build_plan(desired, stripe_state, config=settings).operations
    assert (update.operation, update.stripe_object) == ("update", "customer")
    assert update.params["phone"] == "+1 555 0199"
    assert build_plan(desired, stripe_state, config=config(update_customers=False)).operations == []
