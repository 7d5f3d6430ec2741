"""The bad-data corpus (issues 10.5 and 11.4): one generated CPQ org, one defect per order, each with what the spec
says must happen to that order.

Every case places one contract on an account of its own (so nothing it breaks can leak into another case) with
one thing wrong, or one thing that looks wrong but is fine, and names the outcome:
- QUARANTINED: nothing of the contract reaches Stripe; its failing order gets an Error Sync_Record__c on the named
  record, carrying the named rule;
- PARTIAL: the initial order syncs, the failing amendment gets the Error (the contract's later orders would wait);
- SKIPPED: a deleted order: nothing in Stripe, one Skipped Sync_Record__c;
- SYNCED: the order reaches Stripe exactly, as `check` states.
Valid orders (`NEIGHBOURS`) sit beside them and must always sync. Dates follow the scenarios': today is
2025-03-10, the sync starts 2025-01-01.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sf_stripe_pipeline_tests.scenarios.authoring.cpq import EVERGREEN, METERED, CpqOrg, Line, PlacedOrder, Product

QUARANTINED, PARTIAL, SKIPPED, SYNCED = "quarantined", "partial", "skipped", "synced"
TODAY = "2025-03-10"
ACTIVATED = "2025-03-05T09:00:00Z"
START = "2025-04-01"


@dataclass(frozen=True)
class Placed:
    """What a case put in the org: its contract's initial order, the order expected to fail, and the record the
    error must name (sobject, Id)."""

    initial: dict
    failing: dict | None = None
    named: tuple[str, str] | None = None
    account: dict | None = None


StripeCheck = Callable[[Any, str], list[str]]
"""(stripe client, the order's subscription schedule id) -> problems: what a SYNCED case must look like in Stripe."""


@dataclass(frozen=True)
class BadCase:
    name: str
    description: str
    outcome: str
    rule: str | None
    place: Callable[[Corpus], Placed]
    check: StripeCheck | None = None


CASES: dict[str, BadCase] = {}


def case(outcome: str, rule: str | None = None, check: StripeCheck | None = None):
    def register(place: Callable[[Corpus], Placed]) -> Callable[[Corpus], Placed]:
        name = place.__name__
        if name in CASES:
            raise ValueError(f"two bad-data cases are named {name}")
        CASES[name] = BadCase(name, (place.__doc__ or "").strip(), outcome, rule, place, check)
        return place

    return register


class Corpus:
    """The org being generated, with a small shared catalogue; `current` is the case being placed."""

    def __init__(self) -> None:
        self.org = CpqOrg()
        self.seat = self.org.product("Platform Seat", 10)
        self.analytics = self.org.product("Analytics Add-on", 20)
        self.api = self.org.product("API Calls", 0.5, kind=METERED)
        self.annual = self.org.product("Premium Support", 1200, frequency="Annual")
        self.monitoring = self.org.product("Uptime Monitoring", 30, kind=EVERGREEN)
        self.current = ""

    def account(self, **fields: Any) -> dict:
        """An account of the current case's own (named after it unless `Name` says otherwise, even None)."""
        name = fields.pop("Name", f"{self.current.replace('_', ' ').title()} Ltd"[:60])
        account = self.org.account(name or "Unnamed", **fields)
        return self.org.update(account, Name=name)

    def product(self, name: str, price: float | dict[str, float] = 10, **fields: Any) -> Product:
        return self.org.product(name, price, **fields)

    def order(self, lines: list[Line] | None = None, *, account: dict | None = None, **fields: Any) -> PlacedOrder:
        """A new 12-month order from 2025-04-01 (default: 3 seats), activated 2025-03-05."""
        return self.org.order(
            account or self.account(), lines or [Line(self.seat, 3)], start=fields.pop("start", START),
            activated=fields.pop("activated", ACTIVATED), **fields,
        )

    def amended(self, lines: list[Line], **fields: Any) -> tuple[PlacedOrder, PlacedOrder]:
        """A 12-month contract from 2025-01-01 (5 seats) and an amendment from 2025-05-01 with `lines`."""
        initial = self.order([Line(self.seat, 5)], start="2025-01-01", activated="2025-01-02T09:00:00Z")
        amendment = self.org.amend(initial, lines, start="2025-05-01", activated=ACTIVATED, **fields)
        return initial, amendment


def _fails(placed: PlacedOrder, sobject: str, record: dict) -> Placed:
    return Placed(placed.order, placed.order, (sobject, record["Id"]))


def _on_order(placed: PlacedOrder) -> Placed:
    return _fails(placed, "Order", placed.order)


def _on_line(placed: PlacedOrder) -> Placed:
    return _fails(placed, "OrderItem", placed.items[0])


def _on_quote(placed: PlacedOrder) -> Placed:
    return _fails(placed, "SBQQ__Quote__c", placed.quote)


def _on_account(corpus: Corpus, **fields: Any) -> Placed:
    account = corpus.account(**fields)
    placed = corpus.order(account=account)
    return Placed(placed.order, placed.order, ("Account", account["Id"]), account)


def _amendment_fails(initial: PlacedOrder, amendment: PlacedOrder, sobject: str, record: dict) -> Placed:
    return Placed(initial.order, amendment.order, (sobject, record["Id"]))


# -- currencies (F20) --------------------------------------------------------------------------------------------


@case(QUARANTINED, "currency_supported")
def order_currency_unsupported(corpus: Corpus) -> Placed:
    """Order.CurrencyIsoCode XXX: no Stripe currency."""
    placed = corpus.order()
    corpus.org.update(placed.order, CurrencyIsoCode="XXX")
    return _on_order(placed)


@case(QUARANTINED, "currency_supported")
def price_book_entry_currency_unsupported(corpus: Corpus) -> Placed:
    """The price book entry of the order's product is in ZZZ."""
    product = corpus.product("Legacy Seat")
    placed = corpus.order([Line(product, 2)])
    corpus.org.update(product.entries["USD"], CurrencyIsoCode="ZZZ")
    return Placed(placed.order, placed.order, ("PricebookEntry", product.entries["USD"]["Id"]))


@case(QUARANTINED, "currency_supported")
def line_currency_unsupported(corpus: Corpus) -> Placed:
    """One order line in QQQ."""
    placed = corpus.order()
    corpus.org.update(placed.items[0], CurrencyIsoCode="QQQ")
    return _on_line(placed)


@case(QUARANTINED, "currency_supported")
def coupon_currency_unsupported(corpus: Corpus) -> Placed:
    """A $-off coupon on the quote, in XXX."""
    placed = corpus.order()
    coupon = corpus.org.coupon("Launch", currency="XXX", Amount_Off__c=5, Duration__c="once")
    corpus.org.associate(coupon, placed)
    return Placed(placed.order, placed.order, ("Quote_Stripe_Coupon__c", coupon["Id"]))


# -- dates ---------------------------------------------------------------------------------------------------------


@case(QUARANTINED, "dates_in_order")
def order_ends_before_it_starts(corpus: Corpus) -> Placed:
    """Order.EndDate 2025-03-01, EffectiveDate 2025-04-01."""
    placed = corpus.order()
    corpus.org.update(placed.order, EndDate="2025-03-01")
    return _on_order(placed)


@case(QUARANTINED, "dates_in_order")
def quote_ends_before_it_starts(corpus: Corpus) -> Placed:
    """The quote's SBQQ__EndDate__c before its SBQQ__StartDate__c."""
    placed = corpus.order()
    corpus.org.update(placed.quote, SBQQ__EndDate__c="2024-12-31")
    return _on_quote(placed)


@case(QUARANTINED, "dates_in_order")
def line_ends_before_it_starts(corpus: Corpus) -> Placed:
    """OrderItem.EndDate before its ServiceDate."""
    placed = corpus.order()
    corpus.org.update(placed.items[0], EndDate="2025-01-31")
    return _on_line(placed)


@case(QUARANTINED, "dates_after_epoch")
def start_date_before_1970(corpus: Corpus) -> Placed:
    """A typo'd year: the quote starts 1925-04-01, before Stripe's timestamps begin."""
    placed = corpus.order()
    corpus.org.update(placed.quote, SBQQ__StartDate__c="1925-04-01")
    return _on_quote(placed)


@case(QUARANTINED, "schema")
def start_date_in_the_year_9999(corpus: Corpus) -> Placed:
    """The quote starts 9999-04-01: not a date the sync (or Stripe) can bill."""
    placed = corpus.order()
    corpus.org.update(placed.quote, SBQQ__StartDate__c="9999-04-01")
    return _on_quote(placed)


@case(QUARANTINED, "pre_integration_order")
def activated_before_the_start_date(corpus: Corpus) -> Placed:
    """Activated 2024-12-15 (start date 2025-01-01) and loaded, so changed, today: F2."""
    placed = corpus.order(start="2025-01-01", activated="2024-12-15T10:00:00Z")
    return _on_order(placed)


# -- terms and multipliers (F18, F22) ---------------------------------------------------------------------------


@case(QUARANTINED, "integer_term")
def quote_term_zero(corpus: Corpus) -> Placed:
    """SBQQ__SubscriptionTerm__c 0 on the quote."""
    placed = corpus.order()
    corpus.org.update(placed.quote, SBQQ__SubscriptionTerm__c=0.0)
    return _on_quote(placed)


@case(QUARANTINED, "schema")
def quote_term_negative(corpus: Corpus) -> Placed:
    """SBQQ__SubscriptionTerm__c -12 on the quote."""
    placed = corpus.order()
    corpus.org.update(placed.quote, SBQQ__SubscriptionTerm__c=-12.0)
    return _on_quote(placed)


@case(QUARANTINED, "subscription_term_positive")
def line_term_zero(corpus: Corpus) -> Placed:
    """SBQQ__SubscriptionTerm__c 0 on the order line."""
    placed = corpus.order()
    corpus.org.update(placed.items[0], SBQQ__SubscriptionTerm__c=0.0)
    return _on_line(placed)


@case(QUARANTINED, "prorate_multiplier_positive")
def prorate_multiplier_zero(corpus: Corpus) -> Placed:
    """SBQQ__ProrateMultiplier__c 0 on the order line."""
    placed = corpus.order()
    corpus.org.update(placed.items[0], SBQQ__ProrateMultiplier__c=0.0)
    return _on_line(placed)


@case(QUARANTINED, "schema")
def prorate_multiplier_negative(corpus: Corpus) -> Placed:
    """SBQQ__ProrateMultiplier__c -1 on the order line."""
    placed = corpus.order()
    corpus.org.update(placed.items[0], SBQQ__ProrateMultiplier__c=-1.0)
    return _on_line(placed)


# -- quantities and amounts (F24, F17) ---------------------------------------------------------------------------


@case(QUARANTINED, "positive_quantity")
def quantity_zero_on_a_new_line(corpus: Corpus) -> Placed:
    """A new order whose only line has quantity 0 (Stripe would get an empty phase)."""
    return _on_line(corpus.order([Line(corpus.seat, 0)]))


@case(QUARANTINED, "integer_quantity")
def quantity_decimal(corpus: Corpus) -> Placed:
    """Quantity 2.5 (F24's example)."""
    return _on_line(corpus.order([Line(corpus.seat, 2.5)]))


@case(QUARANTINED, "integer_quantity")
def quantity_negative_on_a_new_order(corpus: Corpus) -> Placed:
    """Quantity -3 on a new order's line."""
    return _on_line(corpus.order([Line(corpus.seat, -3)]))


@case(QUARANTINED, "schema")
def quantity_missing(corpus: Corpus) -> Placed:
    """Quantity null."""
    placed = corpus.order()
    corpus.org.update(placed.items[0], Quantity=None)
    return _on_line(placed)


@case(QUARANTINED, "amount_within_stripe_limit")
def quantity_huge(corpus: Corpus) -> Placed:
    """A billion seats at $10 a month: 10^12 cents on one invoice, over Stripe's eight digits."""
    return _on_line(corpus.order([Line(corpus.seat, 1_000_000_000)]))


@case(QUARANTINED, "amount_within_stripe_limit")
def unit_price_huge(corpus: Corpus) -> Placed:
    """A price book price of $5,000,000 a month: over Stripe's maximum amount."""
    product = corpus.product("Mainframe", 5_000_000)
    placed = corpus.order([Line(product, 1)])
    return Placed(placed.order, placed.order, ("PricebookEntry", product.entries["USD"]["Id"]))


@case(QUARANTINED, "negative_amount")
def unit_price_negative(corpus: Corpus) -> Placed:
    """OrderItem.UnitPrice -120."""
    return _on_line(corpus.order([Line(corpus.seat, 1, unit_price=-120)]))


@case(QUARANTINED, "schema")
def unit_price_missing(corpus: Corpus) -> Placed:
    """OrderItem.UnitPrice null."""
    placed = corpus.order()
    corpus.org.update(placed.items[0], UnitPrice=None)
    return _on_line(placed)


@case(QUARANTINED, "metered_quantity")
def metered_quantity_above_one(corpus: Corpus) -> Placed:
    """A metered (Arrears) line with quantity 3."""
    return _on_line(corpus.order([Line(corpus.api, 3)]))


# -- strings (F13, Stripe's documented lengths and characters) --------------------------------------------------


@case(QUARANTINED, "stripe_field_limit")
def account_name_ten_kilobytes(corpus: Corpus) -> Placed:
    """A 10 kB Account.Name (a Stripe customer's name takes 256 characters; the connector does not truncate it)."""
    return _on_account(corpus, Name="N" * 10_240)


@case(QUARANTINED, "stripe_field_limit")
def product_name_ten_kilobytes(corpus: Corpus) -> Placed:
    """A 10 kB Product2.Name (Stripe takes 5000)."""
    product = corpus.product("P" * 10_240)
    placed = corpus.order([Line(product, 1)])
    return Placed(placed.order, placed.order, ("Product2", product.record["Id"]))


@case(QUARANTINED, "stripe_field_limit")
def account_phone_too_long(corpus: Corpus) -> Placed:
    """A 26-character Account.Phone (a customer's phone takes 20; only shipping.phone is truncated, F13)."""
    return _on_account(corpus, Phone="+1 415 555 0100 ext. 12345")


@case(QUARANTINED, "stripe_field_limit")
def account_email_too_long(corpus: Corpus) -> Placed:
    """A 612-character email (mapped from Email__c; Stripe takes 512)."""
    return _on_account(corpus, Email__c="a" * 600 + "@example.com")


@case(QUARANTINED, "stripe_field_limit")
def coupon_name_too_long(corpus: Corpus) -> Placed:
    """A coupon named with 45 characters (Stripe takes 40)."""
    placed = corpus.order()
    coupon = corpus.org.coupon("C" * 45, Percent_Off__c=10, Duration__c="once")
    corpus.org.associate(coupon, placed)
    return Placed(placed.order, placed.order, ("Quote_Stripe_Coupon__c", coupon["Id"]))


@case(QUARANTINED, "control_characters")
def account_name_with_a_nul_byte(corpus: Corpus) -> Placed:
    """Account.Name "Acme<NUL>Corp"."""
    return _on_account(corpus, Name="Acme\x00Corp")


@case(QUARANTINED, "control_characters")
def product_name_with_a_control_character(corpus: Corpus) -> Placed:
    """Product2.Name with an escape character (0x1b)."""
    product = corpus.product("Seat\x1b[31m")
    placed = corpus.order([Line(product, 1)])
    return Placed(placed.order, placed.order, ("Product2", product.record["Id"]))


@case(QUARANTINED, "schema")
def account_name_missing(corpus: Corpus) -> Placed:
    """Account.Name empty."""
    return _on_account(corpus, Name=None)


# -- references, ids and chains (F5, F6, F30) ---------------------------------------------------------------------


@case(QUARANTINED, "quote_present")
def order_without_a_quote(corpus: Corpus) -> Placed:
    """No CPQ quote on the order."""
    return _on_order(corpus.order(with_quote=False))


@case(QUARANTINED, "required_mappings")
def quote_start_date_missing(corpus: Corpus) -> Placed:
    """The quote has no SBQQ__StartDate__c (a required mapping)."""
    placed = corpus.order()
    corpus.org.update(placed.quote, SBQQ__StartDate__c=None)
    return _on_order(placed)


@case(QUARANTINED, "stripe_id_unique")
def duplicate_stripe_customer_ids(corpus: Corpus) -> Placed:
    """Two accounts holding the same pasted Stripe customer id (this case's, and a sister account's order)."""
    account = corpus.account(Stripe_ID__c="cus_SharedByTwo")
    sister = corpus.org.account("Sister Company Ltd", Stripe_ID__c="cus_SharedByTwo")
    corpus.order(account=sister)
    placed = corpus.order(account=account)
    return Placed(placed.order, placed.order, ("Account", account["Id"]), account)


@case(QUARANTINED, "schema")
def stripe_id_of_the_wrong_kind(corpus: Corpus) -> Placed:
    """A price id pasted into Account.Stripe_ID__c."""
    return _on_account(corpus, Stripe_ID__c="price_1AbCdEf")


@case(QUARANTINED, "amendment_cycle")
def order_amending_its_own_contract(corpus: Corpus) -> Placed:
    """The order's opportunity says it amends the order's own contract."""
    placed = corpus.order()
    corpus.org.update(placed.opportunity, SBQQ__AmendedContract__c=placed.contract["Id"])
    return _on_order(placed)


@case(QUARANTINED, "line_activated")
def line_not_activated(corpus: Corpus) -> Placed:
    """An order line with SBQQ__Activated__c false."""
    placed = corpus.order()
    corpus.org.update(placed.items[0], SBQQ__Activated__c=False)
    return _on_line(placed)


@case(QUARANTINED, "line_activated")
def line_deleted(corpus: Corpus) -> Placed:
    """An order line in the recycle bin (IsDeleted) while its order is not."""
    placed = corpus.order([Line(corpus.seat, 2), Line(corpus.analytics, 1)])
    corpus.org.update(placed.items[1], IsDeleted=True)
    return _fails(placed, "OrderItem", placed.items[1])


@case(SKIPPED)
def order_deleted(corpus: Corpus) -> Placed:
    """An order in the recycle bin (its lines are not): nothing reaches Stripe, one Skipped record."""
    placed = corpus.order()
    corpus.org.update(placed.order, IsDeleted=True)
    return Placed(placed.order, placed.order, ("Order", placed.order["Id"]))


# -- billing fields (F16, F27, F39) ---------------------------------------------------------------------------------


@case(QUARANTINED, "billing_frequency_supported")
def billing_frequency_unsupported(corpus: Corpus) -> Placed:
    """A line billed on an "Invoice Plan"."""
    product = corpus.product("Implementation Plan", 1000, frequency="Invoice Plan")
    placed = corpus.order([Line(product, 1, unit_price=12000)])
    return _on_line(placed)


@case(QUARANTINED, "payment_terms")
def payment_terms_unsupported(corpus: Corpus) -> Placed:
    """SBQQ__PaymentTerm__c "Net 17"."""
    return _on_order(corpus.order(payment_terms="Net 17"))


@case(QUARANTINED, "evergreen_terms_are_one")
def evergreen_term_twelve(corpus: Corpus) -> Placed:
    """An evergreen line with a 12-month term."""
    twelve = {"SBQQ__SubscriptionTerm__c": 12.0, "SBQQ__DefaultSubscriptionTerm__c": 12.0}
    placed = corpus.order([Line(corpus.monitoring, 1, fields=twelve)], start=TODAY, term=1)
    return _on_line(placed)


@case(QUARANTINED, "coupon_terms")
def coupon_percent_over_100(corpus: Corpus) -> Placed:
    """A 150 % coupon on the quote."""
    placed = corpus.order()
    coupon = corpus.org.coupon("Too generous", Percent_Off__c=150, Duration__c="once")
    corpus.org.associate(coupon, placed)
    return Placed(placed.order, placed.order, ("Quote_Stripe_Coupon__c", coupon["Id"]))


# -- amendments: the initial order still syncs (F5, spec 1.10) ------------------------------------------------------


@case(PARTIAL, "co_termination")
def amendment_not_coterminating(corpus: Corpus) -> Placed:
    """An amendment from May 1 for 12 months on a contract ending Jan 1."""
    initial, amendment = corpus.amended([Line(corpus.analytics, 1)], term=12, end="2026-05-01")
    return _amendment_fails(initial, amendment, "Order", amendment.order)


@case(PARTIAL, "revision_chain")
def amendment_line_revising_itself(corpus: Corpus) -> Placed:
    """An amendment line whose SBQQ__RevisedOrderProduct__c is its own Id."""
    initial, amendment = corpus.amended([Line(corpus.analytics, 1)])
    corpus.org.update(amendment.items[0], SBQQ__RevisedOrderProduct__c=amendment.items[0]["Id"])
    return _amendment_fails(initial, amendment, "OrderItem", amendment.items[0])


@case(PARTIAL, "revision_chain")
def amendment_lines_revising_each_other(corpus: Corpus) -> Placed:
    """Two amendments whose lines revise each other: a cycle."""
    initial, first = corpus.amended([Line(corpus.analytics, 1)])
    second = corpus.org.amend(initial, [Line(corpus.analytics, 1)], start="2025-06-01", activated=ACTIVATED)
    corpus.org.update(first.items[0], SBQQ__RevisedOrderProduct__c=second.items[0]["Id"])
    corpus.org.update(second.items[0], SBQQ__RevisedOrderProduct__c=first.items[0]["Id"])
    return _amendment_fails(initial, first, "OrderItem", first.items[0])


@case(PARTIAL, "amount_within_stripe_limit")
def amendment_quantity_huge(corpus: Corpus) -> Placed:
    """An amendment adding a billion seats."""
    initial, amendment = corpus.amended([Line(corpus.analytics, 1_000_000_000)])
    return _amendment_fails(initial, amendment, "OrderItem", amendment.items[0])


@case(PARTIAL, "currency_supported")
def amendment_currency_unsupported(corpus: Corpus) -> Placed:
    """An amendment order in XXX."""
    initial, amendment = corpus.amended([Line(corpus.analytics, 1)])
    corpus.org.update(amendment.order, CurrencyIsoCode="XXX")
    return _amendment_fails(initial, amendment, "Order", amendment.order)


# -- values that look wrong but are fine: synced exactly ----------------------------------------------------------


def _customer_is(**expected: Any) -> StripeCheck:
    def check(client: Any, schedule_id: str) -> list[str]:
        schedule = client.v1.subscription_schedules.retrieve(schedule_id)
        customer = client.v1.customers.retrieve(schedule.customer)
        return [
            f"customer.{path} is {_at(customer, path)!r}, expected {value!r}"
            for path, value in expected.items()
            if _at(customer, path) != value
        ]

    return check


def _product_is(name: str) -> StripeCheck:
    def check(client: Any, schedule_id: str) -> list[str]:
        schedule = client.v1.subscription_schedules.retrieve(schedule_id)
        price = client.v1.prices.retrieve(schedule.phases[0]["items"][0]["price"])
        product = client.v1.products.retrieve(price.product)
        return [] if product.name == name else [f"product name {product.name!r}, expected {name!r}"]

    return check


def _at(obj: Any, path: str) -> Any:
    for step in path.split("."):
        obj = obj[step] if obj is not None else None
    return obj


LONG_DESCRIPTION = "Billing entity for the EMEA region. " * 300  # about 10 kB


@case(SYNCED, check=_customer_is(description=LONG_DESCRIPTION[:350]))
def account_description_ten_kilobytes(corpus: Corpus) -> Placed:
    """A 10 kB Account.Description: the connector truncates it to 350 characters (F13)."""
    return Placed(corpus.order(account=corpus.account(Description=LONG_DESCRIPTION)).order)


@case(SYNCED, check=_customer_is(name="Café 🚀 Ltd"))
def account_name_with_emoji(corpus: Corpus) -> Placed:
    """Emoji and accents are text Stripe takes."""
    return Placed(corpus.order(account=corpus.org.account("Café 🚀 Ltd")).order)


@case(SYNCED, check=_product_is("Seats ✨ Pro"))
def product_name_with_emoji(corpus: Corpus) -> Placed:
    """An emoji in the product name."""
    return Placed(corpus.order([Line(corpus.product("Seats ✨ Pro"), 2)]).order)


@case(SYNCED, check=_customer_is(description="Line one\nLine\ttwo"))
def description_with_line_breaks_and_tabs(corpus: Corpus) -> Placed:
    """Line feeds and tabs are not control characters Stripe refuses."""
    return Placed(corpus.order(account=corpus.account(Description="Line one\nLine\ttwo")).order)


@case(SYNCED, check=_customer_is(**{"shipping.phone": "+1 415 555 0100"}))
def shipping_phone_at_the_limit(corpus: Corpus) -> Placed:
    """A 15-character phone with a shipping address: kept whole on the customer and its shipping."""
    return Placed(corpus.order(account=corpus.account(ShippingCity="Oakland", ShippingCountry="US")).order)


@case(SYNCED)
def large_yen_amount(corpus: Corpus) -> Placed:
    """5,000,000 JPY a month: a zero-decimal currency, so 5,000,000 minor units, within Stripe's eight digits."""
    product = corpus.product("Tokyo Region", {"JPY": 5_000_000})
    account = corpus.account(BillingCountry="JP", BillingCity="Tokyo", BillingState=None, currency="JPY")
    return Placed(corpus.order([Line(product, 1)], account=account).order)


def place_neighbours(corpus: Corpus) -> list[dict]:
    """Valid orders beside the bad ones: a plain order, a multi-line one and an annual one."""
    corpus.current = "valid_neighbour"
    return [
        corpus.order().order,
        corpus.order([Line(corpus.seat, 4), Line(corpus.analytics, 2)]).order,
        corpus.order([Line(corpus.annual, 1)]).order,
    ]


def generate() -> tuple[dict[str, list[dict]], dict[str, Placed], list[dict]]:
    """The corpus org (REST-shaped records), what each case placed, and the valid neighbours' orders."""
    corpus = Corpus()
    placed = {}
    for name, bad_case in CASES.items():
        corpus.current = name
        placed[name] = bad_case.place(corpus)
    neighbours = place_neighbours(corpus)
    (org,) = corpus.org.step_orgs().values()
    return org, placed, neighbours
