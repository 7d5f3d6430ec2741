"""A seeded, deterministic demo Salesforce CPQ org: the input of the pipeline, its demo and its scenario tests.

The pipeline's behaviour (spec §1.4-1.11) is about CPQ data shapes: the Opportunity -> Quote -> Quote Line
-> Order -> Order Item -> Contract chain, amendments that carry quantity deltas pointing at the original
lines, evergreen lines, one-time lines, coupons and their activation snapshots, and a few orders that must
fail. A hand-written fixture would cover each shape once; this generator covers every shape in fixed
proportions at any size, from `MIN_DEMO_ORDERS` (one of each) to the 100,000 orders of the benchmarks, and
gives the same records for the same arguments, so tests can pin ids and amounts.

Faithfulness notes (where the CPQ model needed a decision):
- `OrderItem.UnitPrice` is CPQ's whole-term price (F18): for licensed recurring lines it is the
  PricebookEntry's per-billing-period price x `SBQQ__ProrateMultiplier__c` (term / billing-frequency months),
  less any quote discount. Metered, evergreen and one-time lines are never divided by the connector, so their
  UnitPrice is the per-period (or one-off) price.
- Amendment order items carry the quantity DELTA (negative for reductions) and `SBQQ__RevisedOrderProduct__c`
  = the original line; their quote lines carry the new total quantity, as CPQ amendment quotes do. Amendments
  start on the initial start's day of month and co-terminate with it.
- `Contract.SBQQ__Order__c` is overwritten by the latest contracted amendment, as CPQ does (spec §3.1);
  `Contract.SBQQ__Quote__c` stays the initial quote. `Order.ContractId` stays empty, as on CPQ orders.
- Every record carries every field of the catalogue (null when unset, false for checkboxes) and its own
  system fields, so a snapshot of it survives the sandbox's `replace_org` / `export_org` unchanged.
- Orders activated on `as_of` are stamped in its first hour (00:00-00:59 UTC); other days in office hours.

`demo_case_index` tells which scenario each order is, derived from the records alone, so it also works on
an org exported from the sandbox.
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, NamedTuple

from sf_stripe_pipeline import clock
from sf_stripe_pipeline.core.mapping import BILLING_FREQUENCY_MONTHS
from sf_stripe_pipeline.core.money import add_months
from sf_stripe_pipeline.sandbox.salesforce.ids import make_id
from sf_stripe_pipeline.salesforce.catalogue import BOOLEAN, SOBJECTS

__all__ = [
    "COUPONS", "DEFAULT_ORDERS", "DEFAULT_SEED", "INVALID_CASES", "MIN_DEMO_ORDERS", "PRODUCTS", "DemoCase",
    "DemoCoupon", "DemoProduct", "ProductKind", "demo_case_counts", "demo_case_index",
    "generate_demo_org", "sf_datetime",
]

Record = dict[str, Any]
Org = dict[str, list[Record]]

DEFAULT_ORDERS = 100
DEFAULT_SEED = 7
CORPORATE_CURRENCY = "USD"


class DemoCase(StrEnum):
    """The scenario an order stands for. Values are stable names for tests and summaries."""

    NEW = "new"
    NEW_DISCOUNTED = "new_discounted"
    NEW_MULTI_LINE = "new_multi_line"
    NEW_METERED = "new_metered"
    NEW_WITH_ONE_TIME = "new_with_one_time"
    NEW_EUR = "new_eur"
    NEW_COUPON = "new_coupon"
    ONE_TIME = "one_time"
    EVERGREEN = "evergreen"
    EVERGREEN_CANCELLATION = "evergreen_cancellation"
    AMENDMENT_QUANTITY_UP = "amendment_quantity_up"
    AMENDMENT_QUANTITY_DOWN = "amendment_quantity_down"
    AMENDMENT_ADD_PRODUCT = "amendment_add_product"
    AMENDMENT_TERMINATION = "amendment_termination"
    INVALID_EVERGREEN_TERM = "invalid_evergreen_term"
    INVALID_MIXED_EVERGREEN = "invalid_mixed_evergreen"
    INVALID_DECIMAL_QUANTITY = "invalid_decimal_quantity"
    INVALID_NO_QUOTE = "invalid_no_quote"
    INVALID_EVERGREEN_PARTIAL_CANCELLATION = "invalid_evergreen_partial_cancellation"


INVALID_CASES = frozenset(case for case in DemoCase if case.startswith("invalid_"))


class ProductKind(StrEnum):
    LICENSED = "licensed"  # recurring, billed in advance
    METERED = "metered"  # recurring, billed in arrears on reported usage
    EVERGREEN = "evergreen"  # recurring without end date
    ONE_TIME = "one_time"  # no SBQQ__SubscriptionPricing__c


@dataclass(frozen=True)
class DemoProduct:
    code: str
    name: str
    kind: ProductKind
    frequency: str | None
    usd: float
    """Standard PricebookEntry price in USD: per billing period for recurring products."""
    eur: float
    max_quantity: int = 1

    def price(self, currency: str) -> float:
        return self.usd if currency == CORPORATE_CURRENCY else self.eur


L, M, E, O = ProductKind.LICENSED, ProductKind.METERED, ProductKind.EVERGREEN, ProductKind.ONE_TIME
# Quarterly and annual prices divide by 3 and 12, so whole-term prices of any amendment term stay exact.
PRODUCTS: tuple[DemoProduct, ...] = (
    DemoProduct("SEAT-M", "Platform Seat", L, "Monthly", 50.0, 46.0, 250),
    DemoProduct("ANALYTICS-M", "Analytics Add-on", L, "Monthly", 20.0, 18.0, 100),
    DemoProduct("SANDBOX-M", "Sandbox Environment", L, "Monthly", 150.0, 138.0, 8),
    DemoProduct("API-USAGE-M", "API Calls (per 1,000)", M, "Monthly", 0.5, 0.45),
    DemoProduct("STORAGE-Q", "Data Storage (per TB)", L, "Quarterly", 300.0, 279.0, 40),
    DemoProduct("BACKUP-Q", "Backup Vault", L, "Quarterly", 90.0, 84.0, 20),
    DemoProduct("EVENTS-Q", "Event Ingestion (per million)", M, "Quarterly", 12.0, 11.0),
    DemoProduct("SUPPORT-A", "Premium Support (per 10 users)", L, "Annual", 1200.0, 1104.0, 20),
    DemoProduct("COMPLIANCE-A", "Compliance Pack", L, "Annual", 2400.0, 2208.0, 6),
    DemoProduct("MONITOR-E", "Uptime Monitoring", E, "Monthly", 30.0, 27.0, 10),
    DemoProduct("LOGS-E", "Log Retention", E, "Monthly", 40.0, 36.0, 10),
    DemoProduct("ONBOARD-OT", "Onboarding Package", O, None, 2500.0, 2300.0),
    DemoProduct("TRAINING-OT", "Training Day", O, None, 1500.0, 1380.0, 5),
    DemoProduct("MIGRATION-OT", "Data Migration", O, None, 5000.0, 4600.0),
)
del L, M, E, O


@dataclass(frozen=True)
class DemoCoupon:
    key: str
    name: str
    percent_off: float | None = None
    amount_off: float | None = None
    currency: str = CORPORATE_CURRENCY
    duration: str = "once"
    months: float | None = None
    max_redemptions: float | None = None

    def fields(self) -> Record:
        return {
            "Name__c": self.name,
            "Percent_Off__c": self.percent_off,
            "Amount_Off__c": self.amount_off,
            "Duration__c": self.duration,
            "Duration_In_Months__c": self.months,
            "Max_Redemptions__c": self.max_redemptions,
        }


COUPONS: tuple[DemoCoupon, ...] = (
    DemoCoupon("loyalty", "Loyalty 5% forever", percent_off=5.0, duration="forever"),
    DemoCoupon("usd_credit", "$50 off for 3 months", amount_off=50.0, duration="repeating", months=3.0),
    DemoCoupon("eur_welcome", "EUR 100 welcome credit", amount_off=100.0, currency="EUR"),
    DemoCoupon("launch_week", "Launch week 30% off", percent_off=30.0, max_redemptions=50.0),
    DemoCoupon("partner", "Partner 20% for 6 months", percent_off=20.0, duration="repeating", months=6.0),
)
# The values the "partner" coupon had when an older order was activated (its Order_Stripe_Coupon__c snapshot).
PARTNER_COUPON_BEFORE_EDIT = DemoCoupon(
    "partner", "Partner 15% for 3 months", percent_off=15.0, duration="repeating", months=3.0
)

_COMPANY_WORDS = ("Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Tyrell", "Cyberdyne", "Hooli",
                  "Vandelay", "Soylent", "Wonka", "Aperture", "Gringotts", "Monarch", "Nakatomi", "Oscorp")
_COMPANY_TRADES = ("Robotics", "Logistics", "Analytics", "Foods", "Energy", "Health", "Media", "Systems",
                   "Capital", "Labs", "Motors", "Textiles", "Aerospace")
_COMPANY_FORMS = {"USD": ("Inc.", "LLC", "Corp."), "EUR": ("GmbH", "SAS", "B.V.", "S.L.")}
_FIRST_NAMES = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret", "Dennis")
_LAST_NAMES = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Hamilton")
_CITIES = {  # (city, state, postal code, country)
    "USD": (("San Francisco", "CA", "94105", "US"), ("Austin", "TX", "73301", "US"),
            ("New York", "NY", "10001", "US"), ("Chicago", "IL", "60601", "US"), ("Seattle", "WA", "98101", "US")),
    "EUR": (("Paris", None, "75002", "FR"), ("Berlin", None, "10115", "DE"), ("Amsterdam", None, "1012", "NL"),
            ("Madrid", None, "28001", "ES"), ("Dublin", None, "D02", "IE")),
}
_PAYMENT_TERMS = ("Net 30",) * 6 + ("Net 15", "Net 45", "Net 60")
_LONG_DESCRIPTION = (
    "Strategic enterprise account with a multi-year platform commitment. The customer runs production "
    "workloads in three regions, has a dedicated customer success manager, and reviews its usage every "
    "quarter with our solutions team. Procurement requires purchase orders on every invoice, invoices are "
    "sent to the accounts payable mailbox, and any change to the billing contact must be confirmed in "
    "writing by the finance director before it takes effect."
)
_PHONE_WITH_EXTENSION = "+1 415 555 0142 x471"
"""At Stripe's 20-character limit for a customer phone."""


def _first_of_next_month(day: date) -> date:
    return add_months(day.replace(day=1), 1)


def _months_until(start: date, target: date) -> int:
    """The fewest whole months (at least 1) that take `start` to `target` or later."""
    months = 1
    while add_months(start, months) < target:
        months += 1
    return months


def sf_datetime(instant: datetime) -> str:
    """Salesforce REST datetime text, e.g. `2025-03-10T14:05:00.000+0000` (UTC)."""
    return instant.isoformat(timespec="seconds")[:19] + ".000+0000"  # isoformat: 5x faster than strftime


class _LineSpec(NamedTuple):
    product: DemoProduct
    quantity: float
    discount: float = 0.0
    term: int | None = None
    """Overrides the order's term on this line (evergreen lines default to 1)."""
    default_term: int | None = None
    revises: Record | None = None
    """The original OrderItem an amendment line changes."""
    action: str = "New"


@dataclass
class _PlacedOrder:
    customer: tuple[Record, Record]
    """(account, primary contact)"""
    activated: datetime
    term: int
    start: date
    end: date | None
    order: Record
    quote: Record | None
    lines: list[_LineSpec] = field(default_factory=list)
    quote_lines: list[Record] = field(default_factory=list)
    items: list[Record] = field(default_factory=list)
    contract: Record | None = None


class _RecordFactory:
    """Makes complete records (every catalogue field) with deterministic, counter-based ids."""

    def __init__(self) -> None:
        self.org: Org = {name: [] for name in SOBJECTS}
        self._serials = dict.fromkeys(SOBJECTS, 0)
        self._blanks = {
            name: {field.name: (False if field.type == BOOLEAN else None) for field in spec.fields.values()}
            for name, spec in SOBJECTS.items()
        }

    def add(self, sobject: str, currency: str, created: datetime, modified: datetime | None = None,
            **fields: Any) -> Record:
        blank = self._blanks[sobject]
        if not fields.keys() <= blank.keys():
            raise ValueError(f"{sobject} has no field(s) {sorted(fields.keys() - blank.keys())}")
        self._serials[sobject] += 1
        record = blank.copy()
        record.update(fields)
        record["Id"] = make_id(SOBJECTS[sobject].key_prefix, self._serials[sobject])
        record["CurrencyIsoCode"] = currency
        record["CreatedDate"] = sf_datetime(created)
        _touch(record, modified or created)
        self.org[sobject].append(record)
        return record


def _touch(record: Record, modified: datetime) -> None:
    record["LastModifiedDate"] = record["SystemModstamp"] = sf_datetime(modified)


def _cpq_line_fields(spec: _LineSpec, order_term: int) -> Record:
    """The CPQ subscription fields CPQ copies from the quote line onto the order item."""
    product = spec.product
    if product.kind is ProductKind.ONE_TIME:
        return {"SBQQ__SubscriptionType__c": "One-time", "SBQQ__ProductSubscriptionType__c": "One-time",
                "SBQQ__ChargeType__c": "One-Time"}
    evergreen = product.kind is ProductKind.EVERGREEN
    term = spec.term or (1 if evergreen else order_term)
    months = BILLING_FREQUENCY_MONTHS[product.frequency or "Monthly"]
    return {
        "SBQQ__SubscriptionPricing__c": "Fixed Price",
        "SBQQ__SubscriptionType__c": "Evergreen" if evergreen else "Renewable",
        "SBQQ__ProductSubscriptionType__c": "Renewable/Evergreen" if evergreen else "Renewable",
        "SBQQ__SubscriptionTerm__c": float(term),
        "SBQQ__DefaultSubscriptionTerm__c": float(spec.default_term or (1 if evergreen else 12)),
        "SBQQ__BillingFrequency__c": product.frequency,
        "SBQQ__BillingType__c": "Arrears" if product.kind is ProductKind.METERED else "Advance",
        "SBQQ__ChargeType__c": "Usage" if product.kind is ProductKind.METERED else "Recurring",
        "SBQQ__ProrateMultiplier__c": term / months,
    }


def _whole_term_price(per_period: float, cpq: Mapping[str, Any], discount: float) -> float:
    """CPQ's OrderItem.UnitPrice: licensed recurring lines are priced for the whole term (F18)."""
    licensed = cpq.get("SBQQ__BillingType__c") == "Advance" and cpq["SBQQ__SubscriptionType__c"] == "Renewable"
    multiplier = cpq["SBQQ__ProrateMultiplier__c"] if licensed else 1.0
    return round(per_period * multiplier * (1.0 - discount), 2)


class _DemoOrgBuilder:
    """Places the scenarios of `_SCENARIOS` into one org. Every random choice goes through `self.rng`."""

    def __init__(self, orders: int, seed: int, as_of: date):
        self.rng = random.Random(seed)
        self.as_of = as_of
        self.records = _RecordFactory()
        self._order_numbers = 0
        self._quote_numbers = 0
        self._contract_rotation: dict[str, int] = {"USD": 0, "EUR": 0}
        catalogue_day = datetime.combine(as_of - timedelta(days=400), time(9), UTC)
        self._pricebook = self.records.add(
            "Pricebook2", CORPORATE_CURRENCY, catalogue_day, Name="Standard Price Book", IsStandard=True,
            IsActive=True,
        )
        self._pricebook_entries = self._add_products(catalogue_day)
        self._coupons = {
            coupon.key: self.records.add("Quote_Stripe_Coupon__c", coupon.currency, catalogue_day, **coupon.fields())
            for coupon in COUPONS
        }
        self._accounts = {
            "USD": self._add_accounts("USD", max(4, orders // 4), catalogue_day),
            "EUR": self._add_accounts("EUR", max(2, orders // 20), catalogue_day),
        }

    # ------------------------------------------------------------------ reference data

    def _add_products(self, created: datetime) -> dict[tuple[str, str], Record]:
        entries: dict[tuple[str, str], Record] = {}
        for product in PRODUCTS:
            cpq = _cpq_line_fields(_LineSpec(product, 1), 12)
            product_record = self.records.add(
                "Product2", CORPORATE_CURRENCY, created, Name=product.name, ProductCode=product.code,
                Description=f"{product.name} ({product.kind.value.replace('_', '-')})", IsActive=True,
                SBQQ__SubscriptionPricing__c=cpq.get("SBQQ__SubscriptionPricing__c"),
                # The catalogue's Product2 picklist has no "Renewable/Evergreen": evergreen products say Evergreen.
                SBQQ__SubscriptionType__c=cpq["SBQQ__SubscriptionType__c"],
                SBQQ__SubscriptionTerm__c=cpq.get("SBQQ__DefaultSubscriptionTerm__c"),
                SBQQ__BillingFrequency__c=product.frequency, SBQQ__BillingType__c=cpq.get("SBQQ__BillingType__c"),
                SBQQ__ChargeType__c=cpq["SBQQ__ChargeType__c"],
            )
            for currency in ("USD", "EUR"):
                entries[product.code, currency] = self.records.add(
                    "PricebookEntry", currency, created, Product2Id=product_record["Id"],
                    Pricebook2Id=self._pricebook["Id"], UnitPrice=product.price(currency), IsActive=True,
                )
        return entries

    def _add_accounts(self, currency: str, count: int, created: datetime) -> list[tuple[Record, Record]]:
        """`count` accounts, each with one or two contacts; returns (account, primary contact) pairs."""
        accounts = []
        offset = len(self.records.org["Account"])
        for index in range(count):
            serial = offset + index
            word = _COMPANY_WORDS[serial % len(_COMPANY_WORDS)]
            trade = _COMPANY_TRADES[(serial // len(_COMPANY_WORDS)) % len(_COMPANY_TRADES)]
            form = _COMPANY_FORMS[currency][serial % len(_COMPANY_FORMS[currency])]
            lap = serial // (len(_COMPANY_WORDS) * len(_COMPANY_TRADES))
            name = f"{word} {trade} {form}" + (f" {lap + 1}" if lap else "")
            city, state, postal_code, country = self.rng.choice(_CITIES[currency])
            street = f"{self.rng.randint(1, 999)} {self.rng.choice(('Market', 'Main', 'Oak', 'Harbor'))} Street"
            address = {"Street": street, "City": city, "State": state, "PostalCode": postal_code, "Country": country}
            has_shipping = index % 6 != 5  # some customers have no shipping address (spec §1.4)
            domain = f"{word}-{trade}".lower() + (f"{lap + 1}" if lap else "") + ".example"
            account = self.records.add(
                "Account", currency, created + timedelta(minutes=serial), Name=name,
                Phone=_PHONE_WITH_EXTENSION if index % 7 == 2 else f"+1 415 555 {1000 + serial % 9000:04d}",
                Description=_LONG_DESCRIPTION if index % 10 == 3 else f"{trade} customer in {city}.",
                Email__c=f"billing@{domain}",
                **{f"Billing{key}": value for key, value in address.items()},
                **{f"Shipping{key}": value for key, value in address.items() if has_shipping},
            )
            contacts = [
                self.records.add(
                    "Contact", currency, created + timedelta(minutes=serial), AccountId=account["Id"],
                    FirstName=(first := _FIRST_NAMES[(serial + n) % len(_FIRST_NAMES)]),
                    LastName=(last := _LAST_NAMES[(serial * 3 + n) % len(_LAST_NAMES)]),
                    Email=f"{first}.{last}@{domain}".lower(), Phone=f"+1 415 555 {2000 + serial % 8000:04d}",
                )
                for n in range(1 + index % 2)
            ]
            accounts.append((account, contacts[0]))
        return accounts

    # ------------------------------------------------------------------ random choices

    def _account(self, currency: str = CORPORATE_CURRENCY) -> tuple[Record, Record]:
        """Accounts take contracts in turn, so every account (long descriptions, long phones...) is used."""
        pool = self._accounts[currency]
        turn = self._contract_rotation[currency]
        self._contract_rotation[currency] = turn + 1
        return pool[turn % len(pool)]

    def _activation(self, days_ago: int) -> datetime:
        day = self.as_of - timedelta(days=days_ago)
        hour = 0 if days_ago == 0 else self.rng.randint(8, 17)
        return datetime.combine(day, time(hour, self.rng.randint(0, 59), self.rng.randint(0, 59)), UTC)

    def _recent_activation(self) -> datetime:
        """Spread over the ~60 days before as_of, a few on as_of itself."""
        return self._activation(0 if self.rng.random() < 0.06 else self.rng.randint(1, 59))

    def _start_for(self, activated: date) -> date:
        """Mostly the 1st of the month after activation; some backdated, some today, some in the future."""
        draw = self.rng.random()
        if draw < 0.55:
            return _first_of_next_month(activated)
        if draw < 0.75:
            return activated.replace(day=1)
        if draw < 0.87:
            return self.as_of
        return add_months(_first_of_next_month(self.as_of), self.rng.randint(0, 1))

    def _products(self, kind: ProductKind, frequency: str | None = None) -> list[DemoProduct]:
        return [p for p in PRODUCTS if p.kind is kind and (frequency is None or p.frequency == frequency)]

    def _frequency(self) -> str:
        return self.rng.choices(("Monthly", "Quarterly", "Annual"), weights=(6, 2, 2))[0]

    def _lines(self, kind: ProductKind, count: int, frequency: str | None = None,
               discount: float = 0.0) -> list[_LineSpec]:
        products = self._products(kind, frequency)
        chosen = self.rng.sample(products, min(count, len(products)))
        return [_LineSpec(p, float(self.rng.randint(1, p.max_quantity)), discount) for p in chosen]

    def _term(self) -> int:
        return self.rng.choice((12, 12, 12, 24, 24, 36))

    # ------------------------------------------------------------------ the CPQ chain

    def _place_order(self, customer: tuple[Record, Record], lines: Sequence[_LineSpec], *, activated: datetime,
                     start: date, term: int, end: date | None, amended: Record | None = None,
                     with_quote: bool = True) -> _PlacedOrder:
        """Opportunity -> quote -> quote lines -> activated order -> order items, as CPQ leaves them."""
        account, contact = customer
        currency = account["CurrencyIsoCode"]
        payment_terms = self.rng.choice(_PAYMENT_TERMS)
        order_type = "Amendment" if amended else "New"
        opportunity = self.records.add(
            "Opportunity", currency, activated - timedelta(days=12), activated - timedelta(days=1),
            Name=f"{account['Name']} - {'Amendment' if amended else 'New Business'}", AccountId=account["Id"],
            CloseDate=(activated - timedelta(days=1)).date().isoformat(), StageName="Closed Won",
            SBQQ__AmendedContract__c=amended["Id"] if amended else None,
        )
        recurring_frequency = next((s.product.frequency for s in lines if s.product.frequency), None)
        quote = None
        if with_quote:
            self._quote_numbers += 1
            quote = self.records.add(
                "SBQQ__Quote__c", currency, activated - timedelta(days=3), activated - timedelta(hours=2),
                Name=f"Q-{self._quote_numbers:05d}", SBQQ__Account__c=account["Id"],
                SBQQ__Opportunity2__c=opportunity["Id"], SBQQ__PrimaryContact__c=contact["Id"],
                SBQQ__PricebookId__c=self._pricebook["Id"], SBQQ__StartDate__c=start.isoformat(),
                SBQQ__EndDate__c=end.isoformat() if end else None, SBQQ__SubscriptionTerm__c=float(term),
                SBQQ__Type__c="Amendment" if amended else "Quote", SBQQ__Primary__c=True, SBQQ__Ordered__c=True,
                SBQQ__PaymentTerms__c=payment_terms, SBQQ__BillingFrequency__c=recurring_frequency,
            )
        self._order_numbers += 1
        order = self.records.add(
            "Order", currency, activated - timedelta(hours=1), activated, AccountId=account["Id"],
            OpportunityId=opportunity["Id"], Pricebook2Id=self._pricebook["Id"],
            OrderNumber=f"{self._order_numbers:08d}", Status="Activated", StatusCode="Activated",
            EffectiveDate=start.isoformat(), EndDate=end.isoformat() if end else None,
            ActivatedDate=sf_datetime(activated), Type=order_type, SBQQ__Quote__c=quote["Id"] if quote else None,
            SBQQ__Contracted__c=with_quote and recurring_frequency is not None, SBQQ__PaymentTerm__c=payment_terms,
        )
        placed = _PlacedOrder(customer, activated, term, start, end, order, quote)
        for spec in lines:
            self._place_line(placed, spec)
        return placed

    def _place_line(self, placed: _PlacedOrder, spec: _LineSpec) -> None:
        order, currency, activated = placed.order, placed.order["CurrencyIsoCode"], placed.activated
        product = spec.product
        entry = self._pricebook_entries[product.code, currency]
        cpq = _cpq_line_fields(spec, placed.term)
        one_time = product.kind is ProductKind.ONE_TIME
        line_end = None if one_time or placed.end is None else placed.end.isoformat()
        quote_line = None
        if placed.quote is not None:
            prior_quantity = spec.revises["Quantity"] if spec.revises else 0.0
            quote_line = self.records.add(
                "SBQQ__QuoteLine__c", currency, activated - timedelta(days=3), activated - timedelta(hours=2),
                SBQQ__Quote__c=placed.quote["Id"], SBQQ__Product__c=entry["Product2Id"],
                SBQQ__PricebookEntryId__c=entry["Id"], SBQQ__Quantity__c=prior_quantity + spec.quantity,
                SBQQ__EffectiveStartDate__c=placed.start.isoformat(), SBQQ__EffectiveEndDate__c=line_end, **cpq,
            )
            placed.quote_lines.append(quote_line)
        placed.lines.append(spec)
        placed.items.append(self.records.add(
            "OrderItem", currency, activated - timedelta(hours=1), activated, OrderId=order["Id"],
            Product2Id=entry["Product2Id"], PricebookEntryId=entry["Id"], Quantity=spec.quantity,
            UnitPrice=_whole_term_price(entry["UnitPrice"], cpq, spec.discount),
            ServiceDate=placed.start.isoformat(), EndDate=line_end,
            SBQQ__QuoteLine__c=quote_line["Id"] if quote_line else None, SBQQ__Activated__c=True,
            SBQQ__Status__c="Activated", SBQQ__RevisedOrderProduct__c=spec.revises["Id"] if spec.revises else None,
            SBQQ__OrderedQuantity__c=spec.quantity, SBQQ__ContractAction__c=spec.action, **cpq,
        ))

    def _contract(self, placed: _PlacedOrder) -> None:
        order = placed.order
        placed.contract = self.records.add(
            "Contract", order["CurrencyIsoCode"], placed.activated + timedelta(minutes=5),
            AccountId=order["AccountId"],
            StartDate=placed.start.isoformat(), EndDate=placed.end.isoformat() if placed.end else None,
            ContractTerm=placed.term, Status="Activated", SBQQ__Quote__c=order["SBQQ__Quote__c"],
            SBQQ__Order__c=order["Id"],
        )

    def _new_order(self, lines: Sequence[_LineSpec], *, currency: str = CORPORATE_CURRENCY,
                   activated: datetime | None = None, term: int | None = None,
                   start: date | None = None) -> _PlacedOrder:
        """An initial renewable (or one-time) order with its contract."""
        activated = activated or self._recent_activation()
        start = start or self._start_for(activated.date())
        term = term or self._term()
        placed = self._place_order(self._account(currency), lines, activated=activated, start=start, term=term,
                                   end=add_months(start, term) - timedelta(days=1))
        if placed.order["SBQQ__Contracted__c"]:
            self._contract(placed)
        return placed

    def _evergreen_order(self, lines: Sequence[_LineSpec], activated: datetime | None = None,
                         term: int = 1) -> _PlacedOrder:
        """Evergreen orders start today (backdated evergreen orders are unsupported) and have no end."""
        activated = activated or self._activation(self.rng.randint(0, 5))
        placed = self._place_order(self._account(), lines, activated=activated, start=self.as_of, term=term,
                                   end=None)
        self._contract(placed)
        return placed

    def _amend(self, initial: _PlacedOrder, changes: Sequence[_LineSpec], *, activated: datetime,
               start: date) -> None:
        """An amendment order: deltas only, same contract, co-terminating with the initial order."""
        contract = initial.contract
        assert contract is not None, "only contracted orders are amended"
        term = 1 if initial.end is None else initial.term - _months_until(initial.start, start)
        placed = self._place_order(initial.customer, changes, activated=activated, start=start, term=term,
                                   end=initial.end, amended=contract)
        contract.update(SBQQ__Order__c=placed.order["Id"], SBQQ__AmendmentStartDate__c=start.isoformat())
        _touch(contract, activated + timedelta(minutes=5))

    def _amendable(self, lines: Sequence[_LineSpec], currency: str = CORPORATE_CURRENCY
                   ) -> tuple[_PlacedOrder, datetime, date]:
        """An initial order that started in the past, plus when its amendment is activated and starts."""
        days_ago = self.rng.randint(25, 59)
        activated = self._activation(days_ago)
        start = activated.date().replace(day=1) if self.rng.random() < 0.5 else _first_of_next_month(activated.date())
        initial = self._new_order(lines, currency=currency, activated=activated, start=start,
                                  term=self.rng.choice((12, 24)))
        amendment_activated = self._activation(self.rng.randint(0, days_ago - 7))
        months = _months_until(start, amendment_activated.date())
        if months > 1 and self.rng.random() < 0.3:
            months -= 1  # a backdated amendment
        return initial, amendment_activated, add_months(start, months)

    def _associate(self, placed: _PlacedOrder, coupon_key: str, quote_line: Record | None = None) -> None:
        """A coupon on the quote, or on one of its lines."""
        quote, coupon = placed.quote, self._coupons[coupon_key]
        assert quote is not None, "coupons are associated with CPQ quotes"
        created = placed.activated - timedelta(days=2)
        if quote_line is None:
            self.records.add("Quote_Stripe_Coupon_Association__c", quote["CurrencyIsoCode"], created,
                             Quote__c=quote["Id"], Quote_Stripe_Coupon__c=coupon["Id"])
        else:
            self.records.add("Quote_Line_Stripe_Coupon_Association__c", quote["CurrencyIsoCode"], created,
                             Quote_Line__c=quote_line["Id"], Quote_Stripe_Coupon__c=coupon["Id"])

    # ------------------------------------------------------------------ scenarios (one method per row)

    def new(self) -> None:
        self._new_order(self._lines(ProductKind.LICENSED, 1, self._frequency()))

    def new_discounted(self) -> None:
        discount = self.rng.choice((0.1, 0.15, 0.2, 0.25))
        self._new_order(self._lines(ProductKind.LICENSED, self.rng.randint(1, 2), self._frequency(), discount))

    def new_multi_line(self) -> None:
        self._new_order(self._lines(ProductKind.LICENSED, self.rng.randint(2, 3), self._frequency()))

    def new_metered(self) -> None:
        frequency = self.rng.choice(("Monthly", "Quarterly"))
        metered = [_LineSpec(p, 1.0) for p in self._products(ProductKind.METERED, frequency)]
        self._new_order(self._lines(ProductKind.LICENSED, 1, frequency) + metered)

    def new_with_one_time(self) -> None:
        self._new_order(self._lines(ProductKind.LICENSED, self.rng.randint(1, 2), self._frequency())
                        + self._lines(ProductKind.ONE_TIME, 1))

    def new_eur(self) -> None:
        self._new_order(self._lines(ProductKind.LICENSED, self.rng.randint(1, 2), self._frequency()), currency="EUR")

    def one_time(self) -> None:
        self._new_order(self._lines(ProductKind.ONE_TIME, self.rng.randint(1, 2)), term=12)

    def coupon_stacked(self) -> None:
        """A reused percent coupon on the quote plus an amount coupon on one line."""
        placed = self._new_order(self._lines(ProductKind.LICENSED, 2, "Monthly"))
        self._associate(placed, "loyalty")
        self._associate(placed, "usd_credit", placed.quote_lines[0])

    def coupon_eur(self) -> None:
        placed = self._new_order(self._lines(ProductKind.LICENSED, 1, self._frequency()), currency="EUR")
        self._associate(placed, "eur_welcome")
        self._associate(placed, "loyalty", placed.quote_lines[0])

    def coupon_modified_after_use(self) -> None:
        """An older order snapshotted the partner coupon's OLD values; the coupon changed; a newer order uses it."""
        older = self._new_order(self._lines(ProductKind.LICENSED, 1, "Monthly"),
                                activated=self._activation(self.rng.randint(30, 45)))
        self._associate(older, "partner")
        partner = self._coupons["partner"]
        self.records.add(  # what the activation trigger copied (F43)
            "Order_Stripe_Coupon__c", older.order["CurrencyIsoCode"], older.activated, Order__c=older.order["Id"],
            Quote_Stripe_Coupon_Id__c=partner["Id"], **PARTNER_COUPON_BEFORE_EDIT.fields(),
        )
        _touch(partner, older.activated + timedelta(days=3))
        newer = self._new_order(self._lines(ProductKind.LICENSED, 1, "Monthly"),
                                activated=self._activation(self.rng.randint(0, 10)))
        self._associate(newer, "partner")
        self._associate(newer, "launch_week")

    def amendment_quantity_up(self) -> None:
        initial, activated, start = self._amendable(self._lines(ProductKind.LICENSED, 1, self._frequency()))
        increase = initial.lines[0]._replace(quantity=float(self.rng.randint(1, 10)), discount=0.0,
                                             revises=initial.items[0], action="Quantity Increase")
        self._amend(initial, [increase], activated=activated, start=start)

    def amendment_quantity_down(self) -> None:
        seat = self._products(ProductKind.LICENSED, "Monthly")[0]
        quantity = self.rng.randint(3, 40)
        initial, activated, start = self._amendable([_LineSpec(seat, float(quantity))], currency="EUR")
        decrease = _LineSpec(seat, -float(self.rng.randint(1, quantity - 1)), revises=initial.items[0],
                             action="Quantity Decrease")
        self._amend(initial, [decrease], activated=activated, start=start)

    def amendment_add_product(self) -> None:
        first, added = self._lines(ProductKind.LICENSED, 2, self._frequency())
        initial, activated, start = self._amendable([first])
        self._amend(initial, [added], activated=activated, start=start)

    def amendment_termination(self) -> None:
        initial, activated, start = self._amendable(self._lines(ProductKind.LICENSED, 2, self._frequency()))
        self._amend(initial, self._cancellations(initial, len(initial.items)), activated=activated, start=start)

    def evergreen(self) -> None:
        self._evergreen_order(self._lines(ProductKind.EVERGREEN, self.rng.randint(1, 2)),
                              activated=self._activation(self.rng.choice((0, 0, 1, 3))))

    def evergreen_cancellation(self) -> None:
        self._cancel_first_evergreen_line(products=1)

    def evergreen_partial_cancellation(self) -> None:
        self._cancel_first_evergreen_line(products=2)

    def _cancel_first_evergreen_line(self, products: int) -> None:
        """An evergreen order, and an amendment from next month zeroing its first line."""
        initial = self._evergreen_order(self._lines(ProductKind.EVERGREEN, products))
        activated = max(self._activation(0), initial.activated + timedelta(minutes=10))
        self._amend(initial, self._cancellations(initial, 1), activated=activated,
                    start=_first_of_next_month(self.as_of))

    @staticmethod
    def _cancellations(initial: _PlacedOrder, count: int) -> list[_LineSpec]:
        """Lines netting the first `count` lines of `initial` to zero."""
        return [
            _LineSpec(spec.product, -item["Quantity"], revises=item, action="Cancel")
            for spec, item in zip(initial.lines[:count], initial.items, strict=False)
        ]

    def invalid_evergreen_term(self) -> None:
        product = self._products(ProductKind.EVERGREEN)[0]
        self._evergreen_order([_LineSpec(product, 1.0, term=12, default_term=12)], term=12)

    def invalid_mixed_evergreen(self) -> None:
        lines = self._lines(ProductKind.EVERGREEN, 1) + self._lines(ProductKind.LICENSED, 1, "Monthly")
        self._new_order(lines, start=self.as_of, term=12, activated=self._activation(1))

    def invalid_decimal_quantity(self) -> None:
        self._new_order([_LineSpec(self._products(ProductKind.LICENSED, "Monthly")[0], 2.5)])

    def invalid_no_quote(self) -> None:
        activated = self._recent_activation()
        start, term = _first_of_next_month(activated.date()), 12
        self._place_order(self._account(), self._lines(ProductKind.LICENSED, 1, "Monthly"), activated=activated,
                          start=start, term=term, end=add_months(start, term) - timedelta(days=1), with_quote=False)


@dataclass(frozen=True)
class _Scenario:
    build: Callable[[_DemoOrgBuilder], None]
    cases: tuple[DemoCase, ...]
    """The case of each order the scenario makes, in order."""
    share: float | None
    """Share of the orders beyond the minimum org; None: exactly once at any size."""


C = DemoCase
_B = _DemoOrgBuilder
_SCENARIOS: tuple[_Scenario, ...] = (
    _Scenario(_B.invalid_evergreen_term, (C.INVALID_EVERGREEN_TERM,), None),
    _Scenario(_B.invalid_mixed_evergreen, (C.INVALID_MIXED_EVERGREEN,), None),
    _Scenario(_B.invalid_decimal_quantity, (C.INVALID_DECIMAL_QUANTITY,), None),
    _Scenario(_B.invalid_no_quote, (C.INVALID_NO_QUOTE,), None),
    _Scenario(_B.evergreen_partial_cancellation, (C.EVERGREEN, C.INVALID_EVERGREEN_PARTIAL_CANCELLATION), None),
    _Scenario(_B.coupon_modified_after_use, (C.NEW_COUPON, C.NEW_COUPON), None),
    _Scenario(_B.amendment_quantity_up, (C.NEW, C.AMENDMENT_QUANTITY_UP), 0.04),
    _Scenario(_B.amendment_quantity_down, (C.NEW_EUR, C.AMENDMENT_QUANTITY_DOWN), 0.04),
    _Scenario(_B.amendment_add_product, (C.NEW, C.AMENDMENT_ADD_PRODUCT), 0.04),
    _Scenario(_B.amendment_termination, (C.NEW_MULTI_LINE, C.AMENDMENT_TERMINATION), 0.04),
    _Scenario(_B.evergreen_cancellation, (C.EVERGREEN, C.EVERGREEN_CANCELLATION), 0.02),
    _Scenario(_B.evergreen, (C.EVERGREEN,), 0.04),
    _Scenario(_B.one_time, (C.ONE_TIME,), 0.04),
    _Scenario(_B.new_discounted, (C.NEW_DISCOUNTED,), 0.08),
    _Scenario(_B.new_multi_line, (C.NEW_MULTI_LINE,), 0.15),
    _Scenario(_B.new_metered, (C.NEW_METERED,), 0.05),
    _Scenario(_B.new_with_one_time, (C.NEW_WITH_ONE_TIME,), 0.04),
    _Scenario(_B.new_eur, (C.NEW_EUR,), 0.05),
    _Scenario(_B.coupon_stacked, (C.NEW_COUPON,), 0.03),
    _Scenario(_B.coupon_eur, (C.NEW_COUPON,), 0.02),
)
_BULK = _Scenario(_B.new, (C.NEW,), None)
"""Plain new subscriptions fill whatever the other scenarios leave."""
del C, _B

MIN_DEMO_ORDERS = sum(len(scenario.cases) for scenario in _SCENARIOS) + 1
"""The smallest org with every case: each scenario once and one plain new order."""


def _scenario_counts(orders: int) -> dict[_Scenario, int]:
    if orders < MIN_DEMO_ORDERS:
        raise ValueError(f"a demo org needs at least {MIN_DEMO_ORDERS} orders (one of each case), got {orders}")
    extra = orders - MIN_DEMO_ORDERS
    counts = {
        scenario: 1 + (0 if scenario.share is None else int(scenario.share * extra / len(scenario.cases)))
        for scenario in _SCENARIOS
    }
    counts[_BULK] = orders - sum(count * len(scenario.cases) for scenario, count in counts.items())
    return counts


def demo_case_counts(orders: int = DEFAULT_ORDERS) -> Counter[DemoCase]:
    """How many orders of each case `generate_demo_org(orders)` makes, whatever the seed."""
    counts: Counter[DemoCase] = Counter()
    for scenario, count in _scenario_counts(orders).items():
        for case in scenario.cases:
            counts[case] += count
    return counts


def generate_demo_org(orders: int = DEFAULT_ORDERS, seed: int = DEFAULT_SEED, as_of: date | None = None) -> Org:
    """The demo CPQ org with `orders` orders, as SObject name -> records (REST shape, dependency order).

    Pure and deterministic: the same arguments give identical records. `as_of` (default: the sandbox clock's
    date) is "today" for the scenarios: orders are activated in the ~60 days before it.
    """
    as_of = as_of or clock.now().date()
    counts = _scenario_counts(orders)
    builder = _DemoOrgBuilder(orders, seed, as_of)
    runs = [scenario for scenario, count in counts.items() for _ in range(count)]
    builder.rng.shuffle(runs)
    for scenario in runs:
        scenario.build(builder)
    return builder.records.org


class _OrgIndex:
    """Lookups over an org's records, for classifying orders."""

    def __init__(self, org: Mapping[str, Sequence[Mapping[str, Any]]]):
        def by_id(sobject: str) -> dict[str, Mapping[str, Any]]:
            return {record["Id"]: record for record in org.get(sobject, ())}

        self.opportunities = by_id("Opportunity")
        self.contracts = by_id("Contract")
        self.entries = by_id("PricebookEntry")
        self.orders = by_id("Order")
        self.initial_order_of_quote = {o["SBQQ__Quote__c"]: o for o in org.get("Order", ()) if o["SBQQ__Quote__c"]}
        self.items_of_order: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        self.revisions: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        for item in org.get("OrderItem", ()):
            self.items_of_order[item["OrderId"]].append(item)
            if item["SBQQ__RevisedOrderProduct__c"]:
                self.revisions[item["SBQQ__RevisedOrderProduct__c"]].append(item)
        quote_of_line = {line["Id"]: line["SBQQ__Quote__c"] for line in org.get("SBQQ__QuoteLine__c", ())}
        self.quotes_with_coupons = {a["Quote__c"] for a in org.get("Quote_Stripe_Coupon_Association__c", ())} | {
            quote_of_line[a["Quote_Line__c"]] for a in org.get("Quote_Line_Stripe_Coupon_Association__c", ())
        }

    def case_of(self, order: Mapping[str, Any]) -> DemoCase:
        items = self.items_of_order[order["Id"]]
        subscription_types = {i["SBQQ__SubscriptionType__c"] for i in items if i["SBQQ__SubscriptionPricing__c"]}
        evergreen = "Evergreen" in subscription_types
        if not order["SBQQ__Quote__c"]:
            return DemoCase.INVALID_NO_QUOTE
        if any(not float(item["Quantity"]).is_integer() for item in items):
            return DemoCase.INVALID_DECIMAL_QUANTITY
        if evergreen and len(subscription_types) > 1:
            return DemoCase.INVALID_MIXED_EVERGREEN
        if evergreen and any(
            (i["SBQQ__SubscriptionTerm__c"], i["SBQQ__DefaultSubscriptionTerm__c"]) != (1, 1)
            for i in items if i["SBQQ__SubscriptionType__c"] == "Evergreen"
        ):
            return DemoCase.INVALID_EVERGREEN_TERM
        amended_contract = self.opportunities[order["OpportunityId"]]["SBQQ__AmendedContract__c"]
        if amended_contract:
            return self._amendment_case(order, items, self.contracts[amended_contract], evergreen)
        if evergreen:
            return DemoCase.EVERGREEN
        if not subscription_types:
            return DemoCase.ONE_TIME
        return self._new_case(order, items)

    def _amendment_case(self, order: Mapping[str, Any], items: Sequence[Mapping[str, Any]],
                        contract: Mapping[str, Any], evergreen: bool) -> DemoCase:
        initial = self.initial_order_of_quote[contract["SBQQ__Quote__c"]]
        netted = [
            original["Quantity"] + sum(
                revision["Quantity"] for revision in self.revisions[original["Id"]]
                if self.orders[revision["OrderId"]]["ActivatedDate"] <= order["ActivatedDate"]
            )
            for original in self.items_of_order[initial["Id"]] if original["SBQQ__SubscriptionPricing__c"]
        ]
        if all(quantity == 0 for quantity in netted):
            return DemoCase.EVERGREEN_CANCELLATION if evergreen else DemoCase.AMENDMENT_TERMINATION
        if evergreen and 0 in netted:
            return DemoCase.INVALID_EVERGREEN_PARTIAL_CANCELLATION
        if any(not item["SBQQ__RevisedOrderProduct__c"] for item in items):
            return DemoCase.AMENDMENT_ADD_PRODUCT
        if any(item["Quantity"] < 0 for item in items):
            return DemoCase.AMENDMENT_QUANTITY_DOWN
        return DemoCase.AMENDMENT_QUANTITY_UP

    def _new_case(self, order: Mapping[str, Any], items: Sequence[Mapping[str, Any]]) -> DemoCase:
        if order["SBQQ__Quote__c"] in self.quotes_with_coupons:
            return DemoCase.NEW_COUPON
        if order["CurrencyIsoCode"] != CORPORATE_CURRENCY:
            return DemoCase.NEW_EUR
        if any(item["SBQQ__BillingType__c"] == "Arrears" for item in items):
            return DemoCase.NEW_METERED
        if any(not item["SBQQ__SubscriptionPricing__c"] for item in items):
            return DemoCase.NEW_WITH_ONE_TIME
        if any(not self._at_list_price(item) for item in items):
            return DemoCase.NEW_DISCOUNTED
        return DemoCase.NEW_MULTI_LINE if len(items) > 1 else DemoCase.NEW

    def _at_list_price(self, item: Mapping[str, Any]) -> bool:
        list_price = _whole_term_price(self.entries[item["PricebookEntryId"]]["UnitPrice"], item, 0.0)
        return math.isclose(item["UnitPrice"], list_price, abs_tol=0.005)


def demo_case_index(org: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, DemoCase]:
    """Order Id -> the case it stands for, derived from the records alone (works on an exported org too)."""
    index = _OrgIndex(org)
    return {order["Id"]: index.case_of(order) for order in org.get("Order", ())}
