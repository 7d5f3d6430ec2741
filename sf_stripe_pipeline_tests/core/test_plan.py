"""Planning: create what is missing, leave what matches alone (a re-run is a no-op), update what changed."""

from __future__ import annotations

import copy
from typing import Any

from sf_stripe_pipeline.core.contracts import build_contracts
from sf_stripe_pipeline.core.desired import REF_KEY, DesiredObject
from sf_stripe_pipeline.core.plan import PlannedOperation, build_plan, plan_operations
from sf_stripe_pipeline.core.translate import desired_state

from .builders import INSTANCE_URL, TODAY, OrgBuilder, config

STRIPE_PREFIXES = {
    "customer": "cus",
    "product": "prod",
    "price": "price",
    "subscription_schedule": "sub_sched",
    "subscription": "sub",
    "coupon": "co",
    "invoice_item": "ii",
    "invoice": "in",
}


def _desired(builder: OrgBuilder) -> list[DesiredObject]:
    org = builder.snapshot()
    return desired_state(build_contracts(org), org, config(), today=TODAY, instance_url=INSTANCE_URL)


def _order_org(*, phone: str | None = None, unit_price: float | None = None, entry_price: float = 10) -> OrgBuilder:
    builder = OrgBuilder()
    account = builder.account(BillingCity="Paris", BillingCountry="FR", Phone=phone)
    entry = builder.entry(builder.product(), entry_price)
    order = builder.order(account)
    builder.line(order, entry, quantity=5, unit_price=unit_price if unit_price is not None else 120)
    return builder


def _resolve(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, dict):
        if REF_KEY in value:
            return ids[value[REF_KEY]]
        return {key: _resolve(child, ids) for key, child in value.items()}
    if isinstance(value, list):
        return [_resolve(child, ids) for child in value]
    return value


def _as_stripe_returns(desired: DesiredObject, ids: dict[str, str]) -> dict:
    """The object as Stripe would return it after creation: ids, defaults, extra fields, foreign metadata."""
    params = _resolve(copy.deepcopy(desired.params), ids)
    returned = {"id": ids[desired.address], "object": desired.stripe_object, "livemode": False, "created": 1741600000}
    metadata = {**params.pop("metadata", {}), "set_in_stripe_by_someone": "x"}
    if desired.stripe_object == "customer":
        address = {"city": None, "country": None, "line1": None, "line2": None, "postal_code": None, "state": None}
        returned |= {
            "balance": 0,
            "description": None,
            "email": None,
            "phone": None,
            "shipping": None,
            "invoice_settings": {"custom_fields": None, "footer": None},
        }
        params["address"] = {**address, **params.get("address", {})}
    elif desired.stripe_object == "price":
        params["unit_amount_decimal"] += ".000000000000"
        if "recurring" in params:
            params["recurring"] |= {"meter": None, "trial_period_days": None}
        returned |= {"active": True, "billing_scheme": "per_unit", "tax_behavior": "unspecified", "type": "recurring"}
    elif desired.stripe_object == "subscription_schedule":
        start = params.pop("start_date")
        for _index, phase in enumerate(params["phases"]):
            phase.setdefault("proration_behavior", "create_prorations")
            phase |= {"start_date": start, "add_invoice_items": phase.get("add_invoice_items", []), "currency": "usd"}
            phase["items"] = [
                {**item, "plan": item["price"], "discounts": [], "tax_rates": []} for item in phase["items"]
            ]
        returned |= {
            "status": "not_started",
            "current_phase": None,
            "subscription": None,
            "default_settings": {
                "collection_method": "charge_automatically",
                "invoice_settings": {"days_until_due": None},
            },
        }
    return returned | params | {"metadata": metadata}


def _stripe_state(desired: list[DesiredObject]) -> dict[str, dict]:
    ids = {d.address: f"{STRIPE_PREFIXES[d.stripe_object]}_{n}" for n, d in enumerate(desired, 1)}
    return {d.address: _as_stripe_returns(d, ids) for d in desired}


def _summary(operations: list[PlannedOperation]) -> list[tuple[str, str, str | None]]:
    return [(op.operation, op.stripe_object, op.stripe_id) for op in operations]


def test_everything_missing_is_created_in_dependency_order() -> None:
    desired = _desired(_order_org())
    operations = plan_operations(desired, {d.address: None for d in desired})
    assert _summary(operations) == [
        ("create", "customer", None),
        ("create", "product", None),
        ("create", "price", None),
        ("create", "subscription_schedule", None),
    ]
    assert [op.seq for op in operations] == [1, 2, 3, 4]
    assert [op.params for op in operations] == [d.params for d in desired]
    assert operations[3].contract_keys == desired[3].contract_keys


def test_rerun_against_what_stripe_returns_is_a_no_op() -> None:
    desired = _desired(_order_org())
    plan = build_plan(desired, _stripe_state(desired))
    assert plan.operations == [] and plan.notes == []


def test_changed_and_cleared_account_fields_update_only_those_fields() -> None:
    stripe_state = _stripe_state(_desired(_order_org(phone="555")))
    builder = _order_org(phone=None)
    builder.org["Account"][0]["BillingCity"] = "Lyon"
    operations = plan_operations(_desired(builder), stripe_state)
    (update,) = operations
    assert (update.operation, update.stripe_object, update.stripe_id) == ("update", "customer", "cus_1")
    assert update.params == {"address": {"city": "Lyon", "country": "FR"}, "phone": ""}


def test_customer_updates_can_be_switched_off_but_metadata_is_still_back_filled() -> None:
    desired = _desired(_order_org())
    stripe_state = _stripe_state(desired)
    customer = stripe_state[desired[0].address]
    customer["name"] = "Renamed in Stripe"
    del customer["metadata"]["salesforce_account_link"]
    (update,) = plan_operations(desired, stripe_state, config=config(update_customers=False))
    assert update.params == {
        "metadata": {"salesforce_account_link": desired[0].params["metadata"]["salesforce_account_link"]}
    }


def test_changed_amount_creates_a_new_price_and_archives_the_old_one() -> None:
    stripe_state = _stripe_state(_desired(_order_org(entry_price=10)))
    desired = _desired(_order_org(entry_price=12, unit_price=144))
    operations = plan_operations(desired, stripe_state)
    assert _summary(operations) == [
        ("create", "price", None),
        ("update", "subscription_schedule", "sub_sched_4"),
        ("archive", "price", "price_3"),
    ]
    create, update, archive = operations
    assert create.params["unit_amount_decimal"] == "1200"
    assert archive.params == {"active": False} and archive.destructive
    assert update.params["phases"][0]["start_date"] == desired[3].params["start_date"]
    assert update.params["proration_behavior"] == "none"


def test_a_started_schedule_that_differs_is_updated_keeping_its_current_phase_start() -> None:
    stripe_state = _stripe_state(_desired(_order_org()))
    schedule_address = next(address for address in stripe_state if address.startswith("subscription_schedule"))
    schedule = stripe_state[schedule_address]
    phase = schedule["phases"][0]
    schedule["status"] = "active"
    schedule["current_phase"] = {"start_date": phase["start_date"], "end_date": phase["end_date"]}
    phase["items"][0]["quantity"] = 7
    now = phase["start_date"] + 86_400
    (update,) = plan_operations(_desired(_order_org()), stripe_state, now=now)
    assert (update.operation, update.stripe_id) == ("update", "sub_sched_4")
    (sent,) = update.params["phases"]
    assert sent["start_date"] == phase["start_date"] and sent["items"][0]["quantity"] == 5
    assert sent["add_invoice_items"] == []  # billed when the phase began
    phase["items"][0]["quantity"] = 5
    assert plan_operations(_desired(_order_org()), stripe_state, now=now) == []


def test_a_cancelled_schedule_that_differs_is_a_note_not_an_operation() -> None:
    stripe_state = _stripe_state(_desired(_order_org()))
    schedule_address = next(address for address in stripe_state if address.startswith("subscription_schedule"))
    stripe_state[schedule_address]["status"] = "canceled"
    plan = build_plan(_desired(_order_org()), stripe_state, now=0)
    assert plan.operations == []
    (note,) = plan.notes
    assert note.stripe_id == "sub_sched_4" and "already been canceled and can't be modified" in note.message


def test_order_line_prices_are_archived_after_their_schedule_and_then_left_alone() -> None:
    desired = _desired(_order_org(unit_price=96))  # $8/month instead of the price book's $10: a line price
    operations = plan_operations(desired, {d.address: None for d in desired})
    assert _summary(operations)[-2:] == [("create", "subscription_schedule", None), ("archive", "price", None)]
    assert not operations[-1].destructive
    stripe_state = _stripe_state(desired)
    line_price = next(d.address for d in desired if d.sf_object == "OrderItem")
    stripe_state[line_price]["active"] = False
    assert plan_operations(desired, stripe_state) == []


def test_idempotency_keys_are_stable_and_follow_the_payload() -> None:
    desired = _desired(_order_org())
    missing = {d.address: None for d in desired}
    first, again = plan_operations(desired, missing), plan_operations(_desired(_order_org()), missing)
    assert [op.idempotency_key for op in first] == [op.idempotency_key for op in again]
    assert [op.payload_hash for op in first] == [op.payload_hash for op in again]
    assert all(len(op.idempotency_key) <= 255 for op in first)
    changed = plan_operations(_desired(_order_org(phone="555")), missing)
    assert changed[0].idempotency_key != first[0].idempotency_key  # the customer's payload changed
    assert changed[1].idempotency_key == first[1].idempotency_key  # the product's did not
