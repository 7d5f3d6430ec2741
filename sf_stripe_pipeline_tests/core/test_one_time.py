"""One-time-only orders (F26): invoice items swept into an invoice, which is then finalized."""

from __future__ import annotations

from sf_stripe_pipeline.core.contracts import build_contracts
from sf_stripe_pipeline.core.plan import plan_operations
from sf_stripe_pipeline.core.translate import desired_state

from .builders import INSTANCE_URL, TODAY, OrgBuilder, config


def test_f26_one_time_lines_become_invoice_items_and_a_finalized_invoice() -> None:
    builder = OrgBuilder()
    account = builder.account()
    setup = builder.entry(builder.product(Name="Setup", SBQQ__SubscriptionPricing__c=None), 500)
    order = builder.order(account, SBQQ__PaymentTerm__c="Net 30")
    line = builder.line(order, setup, unit_price=500, SBQQ__SubscriptionPricing__c=None)
    settings = config(
        field_defaults={"subscription_schedule": {"default_settings.collection_method": "send_invoice"}},
        field_mappings={
            "subscription_schedule": {"default_settings.invoice_settings.days_until_due": "SBQQ__PaymentTerm__c"}
        },
    )
    org = builder.snapshot()
    desired = desired_state(build_contracts(org), org, settings, today=TODAY, instance_url=INSTANCE_URL)
    by_object = {o.stripe_object: o for o in desired}
    assert "subscription_schedule" not in by_object
    item = by_object["invoice_item"]
    assert (item.sf_id, item.params["quantity"]) == (line["Id"], 1)
    assert item.params["pricing"] == {"price": {"$ref": f"price:{setup['Id']}"}}
    assert item.params["period"]["end"] > item.params["period"]["start"]  # start -> start + term
    invoice = by_object["invoice"]
    assert invoice.sf_id == order["Id"] and invoice.params["pending_invoice_items_behavior"] == "include"
    assert (invoice.params["collection_method"], invoice.params["days_until_due"]) == ("send_invoice", 30)

    operations = plan_operations(desired, {o.address: None for o in desired})
    assert [(op.operation, op.stripe_object) for op in operations][-3:] == [
        ("create", "invoice_item"),
        ("create", "invoice"),
        ("finalize", "invoice"),
    ]
    draft = {"id": "in_1", "status": "draft"}
    actual = {o.address: {"id": "x", **o.params} for o in desired} | {invoice.address: draft}
    finalize = [op for op in plan_operations(desired, actual) if op.stripe_object == "invoice"]
    assert [(op.operation, op.stripe_id) for op in finalize] == [("finalize", "in_1")]
    actual[invoice.address] = {**draft, "status": "open"}
    assert not [op for op in plan_operations(desired, actual) if op.stripe_object in ("invoice", "invoice_item")]
