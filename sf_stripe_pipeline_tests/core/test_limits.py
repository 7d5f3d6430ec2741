"""Run limits: a destructive change holds back the contracts that need it, not the run; the operation count is the
run-wide limit."""

from __future__ import annotations

from sf_stripe_pipeline.core import build_contracts, build_plan, desired_state
from sf_stripe_pipeline.core.config import LimitsConfig
from sf_stripe_pipeline.core.limits import run_limit_problems, withhold_destructive

from .builders import INSTANCE_URL, TODAY, OrgBuilder, config


def _two_contracts_one_changed_price():
    """Contracts A (seats, PricebookEntry X) and B (support, PricebookEntry Y) on one account, both in Stripe; X's
    amount went from 10 to 12 after its price was used. Returns the plan and the two contracts' keys."""
    builder = OrgBuilder()
    account = builder.account()
    seats = builder.entry(builder.product(Name="Seats"), 12, Stripe_ID__c="price_x")
    support = builder.entry(builder.product(Name="Support"), 20)
    order_a = builder.order(account)
    builder.line(order_a, seats, unit_price=144)  # the new amount for 12 months: the price book price
    order_b = builder.order(account)
    builder.line(order_b, support)
    org = builder.snapshot()
    desired = desired_state(build_contracts(org), org, config(), today=TODAY, instance_url=INSTANCE_URL)
    product_x = next(o for o in desired if o.stripe_object == "product" and o.sf_id == seats["Product2Id"])
    actual = {
        f"price:{seats['Id']}": {
            "id": "price_x", "active": True, "currency": "usd", "unit_amount_decimal": "1000",
            "product": "prod_x", "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"},
        },
        f"product:{product_x.key}": {"id": "prod_x", **product_x.params},
    }
    return build_plan(desired, actual), order_a["Id"], order_b["Id"]


def test_the_planner_marks_retiring_a_used_price_destructive() -> None:
    plan, contract_a, _ = _two_contracts_one_changed_price()
    (archive,) = [op for op in plan.operations if op.destructive]
    assert (archive.operation, archive.stripe_id, archive.contract_keys) == ("archive", "price_x", (contract_a,))


def test_a_destructive_change_withholds_the_contracts_that_need_it_and_keeps_the_others() -> None:
    plan, contract_a, contract_b = _two_contracts_one_changed_price()
    limited = withhold_destructive(plan, LimitsConfig(allow_destructive=False))
    assert not [op for op in limited.operations if op.destructive]
    assert not [op for op in limited.operations if op.contract_keys == (contract_a,)]
    kept = {(op.operation, op.stripe_object) for op in limited.operations if contract_b in op.contract_keys}
    assert ("create", "subscription_schedule") in kept and ("create", "price") in kept
    # The shared customer is kept: contract B needs it.
    assert any(op.stripe_object == "customer" and set(op.contract_keys) == {contract_a, contract_b}
               for op in limited.operations)
    (note,) = limited.notes
    assert note.contract_keys == (contract_a,) and note.sf_object == "PricebookEntry"
    assert "price_x" in note.message and "limits.allow_destructive is false" in note.message


def test_allowed_destructive_changes_leave_the_plan_as_it_is() -> None:
    plan, _, _ = _two_contracts_one_changed_price()
    assert withhold_destructive(plan, LimitsConfig(allow_destructive=True)) is plan


def test_the_operation_count_is_a_run_wide_limit_stated_in_one_line() -> None:
    plan, _, _ = _two_contracts_one_changed_price()
    count = len(plan.operations)
    assert run_limit_problems(count, count, "sf_stripe.yaml") == []
    (problem,) = run_limit_problems(count, 1, "sf_stripe.yaml")
    assert f"{count} operations planned, more than the limit of 1" in problem
    assert f"--max-operations {count}" in problem and "limits.max_operations_per_run in sf_stripe.yaml" in problem
    assert "\n" not in problem
