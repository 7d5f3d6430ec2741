"""Translation of new renewable orders into desired Stripe objects: the spec's examples, param for param."""

from __future__ import annotations

from sf_stripe_pipeline.core.config import SyncConfig
from sf_stripe_pipeline.core.contracts import build_contracts
from sf_stripe_pipeline.core.desired import DesiredObject, ref
from sf_stripe_pipeline.core.rules import assess_contracts
from sf_stripe_pipeline.core.translate import desired_state

from .builders import INSTANCE_URL, TODAY, OrgBuilder, config

APRIL_1_2025 = 1743465600
APRIL_1_2026 = 1775001600


def _translate(builder: OrgBuilder, sync_config: SyncConfig | None = None) -> dict[str, DesiredObject]:
    org = builder.snapshot()
    sync_config = sync_config or config()
    contracts = build_contracts(org)
    assessments = assess_contracts(contracts, org, sync_config, today=TODAY, instance_url=INSTANCE_URL)
    assert [v for a in assessments.values() for v in a.violations] == []
    desired = desired_state(
        contracts, org, sync_config, today=TODAY, instance_url=INSTANCE_URL, assessments=assessments
    )
    return {d.address: d for d in desired}


def _links(sobject_name: str, sf_id: str) -> dict[str, str]:
    return {f"salesforce_{sobject_name}_id": sf_id, f"salesforce_{sobject_name}_link": f"{INSTANCE_URL}/{sf_id}"}


def _one_line_order(
    builder: OrgBuilder,
    *,
    account_fields: dict | None = None,
    product_fields: dict | None = None,
    entry_price: float = 10,
    entry_fields: dict | None = None,
    quantity: float = 5,
    line_fields: dict | None = None,
    order_fields: dict | None = None,
    quote: dict | None = None,
) -> tuple[dict, dict, dict, dict, dict]:
    account = builder.account(**(account_fields or {}))
    product = builder.product(**(product_fields or {}))
    entry = builder.entry(product, entry_price, **(entry_fields or {}))
    order = builder.order(account, quote=quote, **(order_fields or {}))
    line = builder.line(order, entry, quantity=quantity, **(line_fields or {}))
    return account, product, entry, order, line


def test_f13_customer_from_account() -> None:
    builder = OrgBuilder()
    account, *_ = _one_line_order(builder, account_fields={"BillingCity": "Paris", "BillingCountry": "FR"})
    customer = _translate(builder)[f"customer:{account['Id']}"]
    assert customer.params == {
        "name": "Acme",
        "address": {"city": "Paris", "country": "FR"},
        "metadata": _links("account", account["Id"]),
    }
    assert customer.sf_object == "Account" and customer.linked_stripe_id is None
    assert "shipping" in customer.cleared_paths  # no shipping address: shipping is dropped, and owned


def test_f13_truncates_description_and_keeps_shipping_with_an_address() -> None:
    builder = OrgBuilder()
    account, *_ = _one_line_order(
        builder,
        account_fields={
            "Description": "x" * 400,
            "Phone": "+33 1 23 45 67 89 x1",
            "ShippingCity": "Lyon",
            "Stripe_ID__c": "cus_existing",
        },
    )
    customer = _translate(builder)[f"customer:{account['Id']}"]
    assert customer.params["description"] == "x" * 350
    assert customer.params["phone"] == "+33 1 23 45 67 89 x1"
    assert customer.params["shipping"] == {"name": "Acme", "phone": "+33 1 23 45 67 89 x1", "address": {"city": "Lyon"}}
    assert customer.linked_stripe_id == "cus_existing"


def test_f13_a_customer_phone_stripe_would_refuse_is_a_data_error_on_the_account() -> None:
    builder = OrgBuilder()
    account, *_ = _one_line_order(builder, account_fields={"Phone": "+33 1 23 45 67 89 ext. 1234"})
    org = builder.snapshot()
    assessments = assess_contracts(build_contracts(org), org, config(), today=TODAY, instance_url=INSTANCE_URL)
    [violation] = [v for assessment in assessments.values() for v in assessment.violations]
    assert (violation.rule, violation.sf_object, violation.sf_id) == ("stripe_field_limit", "Account", account["Id"])
    assert "27 characters" in violation.message


def test_f15_f16_product_and_recurring_quarterly_price_from_the_price_book() -> None:
    builder = OrgBuilder()
    _, product, entry, order, _ = _one_line_order(
        builder,
        product_fields={"SBQQ__BillingFrequency__c": "Quarterly"},
        entry_price=300,
        quantity=1,
        line_fields={"unit_price": 1200},  # the whole 12-month term: 4 quarters of 300
    )
    desired = _translate(builder)
    assert desired[f"product:{product['Id']}"].params == {
        "name": "Seats",
        "metadata": _links("product2", product["Id"]),
    }
    price = desired[f"price:{entry['Id']}"]
    assert price.params == {
        "product": ref("product", product["Id"]),
        "currency": "usd",
        "unit_amount_decimal": "30000",
        "recurring": {"interval": "month", "interval_count": 3, "usage_type": "licensed"},
        "metadata": _links("pricebook_entry", entry["Id"]),
    }
    assert price.depends_on == (f"product:{product['Id']}",)
    schedule = desired[f"subscription_schedule:{order['Id']}"]
    assert schedule.params["phases"][0]["items"][0]["price"] == ref("price", entry["Id"])


def test_f16_metered_line_has_no_quantity_and_one_time_line_is_an_invoice_item() -> None:
    builder = OrgBuilder()
    account = builder.account()
    usage = builder.product(Name="API calls", SBQQ__BillingType__c="Arrears")
    setup = builder.product(
        Name="Setup",
        SBQQ__SubscriptionPricing__c=None,
        SBQQ__SubscriptionType__c=None,
        SBQQ__BillingFrequency__c=None,
        SBQQ__BillingType__c=None,
    )
    usage_entry, setup_entry = builder.entry(usage, 0.5), builder.entry(setup, 500)
    order = builder.order(account)
    usage_line = builder.line(order, usage_entry, quantity=1, unit_price=0.5)
    setup_line = builder.line(order, setup_entry, quantity=2, unit_price=500)
    desired = _translate(builder)
    assert desired[f"price:{usage_entry['Id']}"].params["recurring"] == {
        "interval": "month",
        "interval_count": 1,
        "usage_type": "metered",
    }
    setup_price = desired[f"price:{setup_entry['Id']}"].params
    assert "recurring" not in setup_price and setup_price["unit_amount_decimal"] == "50000"
    phase = desired[f"subscription_schedule:{order['Id']}"].params["phases"][0]
    assert phase["items"] == [
        {"price": ref("price", usage_entry["Id"]), "metadata": _links("order_item", usage_line["Id"])}
    ]
    assert phase["add_invoice_items"] == [
        {"price": ref("price", setup_entry["Id"]), "quantity": 2, "metadata": _links("order_item", setup_line["Id"])}
    ]


def test_f17_discounted_line_gets_its_own_auto_archived_price() -> None:
    builder = OrgBuilder()
    _, product, entry, order, line = _one_line_order(builder, entry_price=10, line_fields={"unit_price": 96})
    desired = _translate(builder)
    assert f"price:{entry['Id']}" not in desired  # prices are created lazily, only when used
    line_price = desired[f"price:{line['Id']}"]
    assert line_price.sf_object == "OrderItem"
    assert line_price.params == {
        "product": ref("product", product["Id"]),
        "currency": "usd",
        "unit_amount_decimal": "800",
        "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"},
        "metadata": {**_links("order_item", line["Id"]), "salesforce_auto_archive": "true"},
    }
    item = desired[f"subscription_schedule:{order['Id']}"].params["phases"][0]["items"][0]
    assert item["price"] == ref("price", line["Id"])


def test_f18_whole_term_line_amount_matching_the_price_book_reuses_its_price() -> None:
    builder = OrgBuilder()
    _, _, entry, order, _ = _one_line_order(
        builder,
        product_fields={"SBQQ__BillingFrequency__c": "Annual"},
        entry_price=1200,
        quantity=1,
        line_fields={"unit_price": 2400, "SBQQ__ProrateMultiplier__c": 2},
        quote={"SBQQ__SubscriptionTerm__c": 24},
    )
    desired = _translate(builder)
    assert desired[f"price:{entry['Id']}"].params["unit_amount_decimal"] == "120000"
    assert [d.stripe_object for d in desired.values()].count("price") == 1
    phase = desired[f"subscription_schedule:{order['Id']}"].params["phases"][0]
    assert phase["end_date"] == 1806537600  # 2027-04-01: 24 months after the start


def test_f18_custom_price_field_is_taken_per_billing_period() -> None:
    builder = OrgBuilder()
    _, _, entry, _, _ = _one_line_order(builder, entry_price=10, line_fields={"unit_price": 10})
    desired = _translate(builder, config(field_mappings={"price_order_item": {"unit_amount_decimal": "UnitPrice"}}))
    assert f"price:{entry['Id']}" in desired  # 10 per month, not divided by 12: equals the price book


def test_f20_zero_decimal_currency_is_not_multiplied() -> None:
    builder = OrgBuilder()
    _, _, entry, _, _ = _one_line_order(
        builder,
        entry_price=1000,
        entry_fields={"CurrencyIsoCode": "JPY"},
        line_fields={"CurrencyIsoCode": "JPY"},
    )
    price = _translate(builder)[f"price:{entry['Id']}"]
    assert (price.params["unit_amount_decimal"], price.params["currency"]) == ("1000", "jpy")


def test_f22_initial_order_becomes_a_schedule() -> None:
    builder = OrgBuilder()
    account, _, entry, order, line = _one_line_order(builder, entry_price=10, quantity=5)
    schedule = _translate(builder)[f"subscription_schedule:{order['Id']}"]
    order_links = _links("order", order["Id"])
    assert schedule.params == {
        "customer": ref("customer", account["Id"]),
        "start_date": APRIL_1_2025,
        "end_behavior": "cancel",
        "metadata": order_links,
        "phases": [
            {
                "items": [
                    {"price": ref("price", entry["Id"]), "quantity": 5, "metadata": _links("order_item", line["Id"])}
                ],
                "end_date": APRIL_1_2026,
                "proration_behavior": "none",
                "metadata": order_links,
            }
        ],
    }
    assert schedule.depends_on == (f"customer:{account['Id']}", f"price:{entry['Id']}")
    assert (schedule.sf_object, schedule.key, schedule.contract_keys) == ("Order", order["Id"], (order["Id"],))


def test_f23_backdated_start_leaves_stripe_prorations_unless_skipped() -> None:
    builder = OrgBuilder()
    *_, backdated, _ = _one_line_order(builder, quote={"SBQQ__StartDate__c": "2025-01-01"})
    *_, skipped, _ = _one_line_order(
        builder, quote={"SBQQ__StartDate__c": "2025-01-01"}, order_fields={"Skip_Past_Initial_Invoices__c": True}
    )
    desired = _translate(builder)
    assert "proration_behavior" not in desired[f"subscription_schedule:{backdated['Id']}"].params["phases"][0]
    assert desired[f"subscription_schedule:{skipped['Id']}"].params["phases"][0]["proration_behavior"] == "none"


def test_f25_skipped_lines_are_left_out() -> None:
    builder = OrgBuilder()
    _account, _product, _entry, order, kept = _one_line_order(builder)
    other = builder.entry(builder.product(Name="Support"), 20)
    builder.line(order, other, Skip_Line_Item__c=True)
    desired = _translate(builder)
    items = desired[f"subscription_schedule:{order['Id']}"].params["phases"][0]["items"]
    assert [item["metadata"]["salesforce_order_item_id"] for item in items] == [kept["Id"]]
    assert f"price:{other['Id']}" not in desired


def test_f27_payment_terms_and_mapped_schedule_fields() -> None:
    builder = OrgBuilder()
    orders = [
        _one_line_order(builder, order_fields={"SBQQ__PaymentTerm__c": terms, "OrderNumber": f"0000012{n}"})[3]
        for n, terms in enumerate(["Net 30", "net-45", "15"])
    ]
    sync_config = config(
        field_defaults={"subscription_schedule": {"default_settings.collection_method": "send_invoice"}},
        field_mappings={
            "subscription_schedule": {
                "default_settings.invoice_settings.days_until_due": "SBQQ__PaymentTerm__c",
                "metadata.order_number": "OrderNumber",
            }
        },
    )
    desired = _translate(builder, sync_config)
    schedules = [desired[f"subscription_schedule:{order['Id']}"].params for order in orders]
    assert [s["default_settings"] for s in schedules] == [
        {"collection_method": "send_invoice", "invoice_settings": {"days_until_due": days}} for days in (30, 45, 15)
    ]
    assert schedules[0]["metadata"]["order_number"] == "00000120"


def test_f11_user_defaults_and_mappings_override_built_ins() -> None:
    builder = OrgBuilder()
    account, *_ = _one_line_order(builder, account_fields={"Email__c": "billing@acme.test", "Phone": "555"})
    sync_config = config(
        field_defaults={"customer": {"metadata.source": "salesforce", "phone": "000", "tax_exempt": "none"}},
        field_mappings={"customer": {"email": "Email__c", "name": "Email__c"}},
    )
    customer = _translate(builder, sync_config)[f"customer:{account['Id']}"]
    assert customer.params["email"] == customer.params["name"] == "billing@acme.test"
    assert customer.params["phone"] == "000"
    assert customer.params["metadata"]["source"] == "salesforce"


def test_shared_account_and_price_book_entry_are_one_object_serving_both_contracts() -> None:
    builder = OrgBuilder()
    account, _product, entry, first, _ = _one_line_order(builder)
    second = builder.order(account)
    builder.line(second, entry, quantity=2)
    desired = _translate(builder)
    assert desired[f"customer:{account['Id']}"].contract_keys == (first["Id"], second["Id"])
    assert desired[f"price:{entry['Id']}"].contract_keys == (first["Id"], second["Id"])
    assert [d.stripe_object for d in desired.values()] == [
        "customer",
        "product",
        "price",
        "subscription_schedule",
        "subscription_schedule",
    ]


def test_f21_same_price_twice_in_a_phase_gets_a_duplicate() -> None:
    builder = OrgBuilder()
    _, _, entry, order, _first = _one_line_order(builder)
    second = builder.line(order, entry, quantity=3)
    desired = _translate(builder)
    duplicate = desired[f"price:{second['Id']}"].params
    assert duplicate["metadata"]["salesforce_duplicate"] == "true"
    assert duplicate["metadata"]["salesforce_original_stripe_price_id"] == ref("price", entry["Id"])
    items = desired[f"subscription_schedule:{order['Id']}"].params["phases"][0]["items"]
    assert [item["price"] for item in items] == [ref("price", entry["Id"]), ref("price", second["Id"])]


def test_invalid_contracts_contribute_nothing() -> None:
    builder = OrgBuilder()
    _, _, _, good, _ = _one_line_order(builder)
    _one_line_order(builder, quantity=2.5)
    desired = _translate_allowing_violations(builder)
    assert {d.contract_keys for d in desired} == {(good["Id"],)}


def _translate_allowing_violations(builder: OrgBuilder) -> list[DesiredObject]:
    org = builder.snapshot()
    return desired_state(build_contracts(org), org, config(), today=TODAY, instance_url=INSTANCE_URL)
