"""Hypothesis strategies: random CPQ contracts, with what CPQ says they cost, for the core's property tests.

Each strategy draws a consistent CPQ org (one contract: the initial order and its amendments) and returns it with
the facts a property needs: the contract's dates and billing interval, and CPQ's net total (UnitPrice x Quantity
over every line, amendments included). Amounts have the currency's precision, as CPQ stores them; dates keep the
initial order's day of month (anniversary amendments) and amendments co-terminate, as CPQ makes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from hypothesis import strategies as st

from sf_stripe_pipeline.core.money import add_months, minor_unit_factor

from .builders import OrgBuilder

CURRENCIES = ("USD", "EUR", "JPY", "UGX", "KWD", "GBP")
FREQUENCIES = (("Monthly", 1), ("Quarterly", 3), ("Semiannual", 6), ("Annual", 12))


def places(currency: str) -> int:
    return {1: 0, 100: 2, 1000: 3}[minor_unit_factor(currency)]


def in_currency(amount: Decimal, currency: str) -> Decimal:
    """An amount as CPQ stores it in `currency` (rounded half-up to its minor unit)."""
    return amount.quantize(Decimal(1).scaleb(-places(currency)), rounding=ROUND_HALF_UP)


def amounts(currency: str, *, low: int = 0, high: int = 5_000_000) -> st.SearchStrategy[Decimal]:
    """A per-period price with the currency's precision, from 0 to 50,000 major units."""
    scale = 10 ** places(currency)
    return st.integers(low, high).map(lambda minor: Decimal(minor) / scale)


def period_amounts(currency: str, interval: int, *, low: int = 0) -> st.SearchStrategy[Decimal]:
    """A per-period price: any amount (CPQ's whole-term UnitPrice is then rounded to the currency), or one whose
    whole-term price is exact for any term (a multiple of `interval` minor units), the case where a per-line price
    must equal the price book's exactly (F17)."""
    scale = 10 ** places(currency)
    exact = st.integers(max(low, 0), 400_000).map(lambda units: Decimal(units * interval) / scale)
    return st.one_of(exact, amounts(currency, low=low))


@dataclass
class LineFacts:
    line: dict
    entry: dict
    per_period: Decimal
    """What the line costs a billing period (CPQ's UnitPrice is that over the line's term)."""
    equals_price_book: bool
    """Whether UnitPrice / (term / interval) is exactly the PricebookEntry's price (F17: its price is reused)."""


@dataclass
class ContractFacts:
    builder: OrgBuilder
    currency: str
    interval: int
    start: date
    end: date
    lines: list[LineFacts] = field(default_factory=list)
    kind: str = "renewable"

    @property
    def cpq_total_minor(self) -> Decimal:
        """CPQ's net total in minor units: UnitPrice x Quantity of every line, amendments netted."""
        total = sum((Decimal(f.line["UnitPrice"]) * f.line["Quantity"] for f in self.lines), Decimal(0))
        return total * minor_unit_factor(self.currency)


class _Contract:
    """Draws one contract into an OrgBuilder."""

    def __init__(self, draw: Any, currency: str, frequency: str, interval: int, start: date, term: int):
        self.draw, self.currency, self.frequency, self.interval = draw, currency, frequency, interval
        self.builder = OrgBuilder()
        self.account = self.builder.account()
        self.facts = ContractFacts(self.builder, currency, interval, start, add_months(start, term))
        self.term = term

    def product(self, per_period: Decimal, *, equal: bool) -> dict:
        book = per_period if equal else self.draw(amounts(self.currency))
        product = self.builder.product(SBQQ__BillingFrequency__c=self.frequency, CurrencyIsoCode=self.currency)
        return self.builder.entry(product, book, CurrencyIsoCode=self.currency)

    def order(self, start: date, term: int, amends: dict | None = None) -> dict:
        quote = {
            "SBQQ__StartDate__c": start.isoformat(),
            "SBQQ__SubscriptionTerm__c": term,
            "CurrencyIsoCode": self.currency,
        }
        return self.builder.order(self.account, quote=quote, amends=amends, CurrencyIsoCode=self.currency)

    def line(self, order: dict, entry: dict, per_period: Decimal, quantity: int, term: int, **fields: Any) -> LineFacts:
        unit_price = in_currency(per_period * term / self.interval, self.currency)
        line = self.builder.line(
            order,
            entry,
            quantity=quantity,
            unit_price=unit_price,
            SBQQ__SubscriptionTerm__c=term,
            SBQQ__BillingFrequency__c=self.frequency,
            CurrencyIsoCode=self.currency,
            **fields,
        )
        exact = Decimal(unit_price) * self.interval / term
        facts = LineFacts(line, entry, per_period, exact == Decimal(entry["UnitPrice"]))
        self.facts.lines.append(facts)
        return facts


@st.composite
def renewable_contracts(draw: Any, *, amendments: int = 2, at_least: int = 0) -> ContractFacts:
    """A renewable contract: 1-3 licensed lines over a term of whole billing periods plus a leftover (F28 backend
    proration), then up to 2 anniversary amendments adding lines (prorated off-cycle, F32), changing nothing (0),
    or reducing lines on a billing date (CPQ credits a reduction; Stripe, without F36 credits, only bills less
    from the next billing date, so both agree on billing dates)."""
    currency = draw(st.sampled_from(CURRENCIES))
    frequency, interval = draw(st.sampled_from(FREQUENCIES))
    leftover = draw(st.integers(0, interval - 1)) if draw(st.booleans()) else 0  # F28 backend proration
    term = draw(st.integers(1, 4)) * interval + leftover
    start = date(draw(st.integers(2025, 2026)), draw(st.integers(1, 12)), draw(st.integers(1, 28)))
    contract = _Contract(draw, currency, frequency, interval, start, term)
    initial = contract.order(start, term)
    initial_lines = []
    for _ in range(draw(st.integers(1, 3))):
        per_period = draw(period_amounts(currency, interval))
        entry = contract.product(per_period, equal=draw(st.booleans()))
        initial_lines.append(contract.line(initial, entry, per_period, draw(st.integers(1, 40)), term))
    remaining = {facts.line["Id"]: facts.line["Quantity"] for facts in initial_lines}
    amendable = term % interval == 0 and term > 1  # F28: amending a term with a leftover is not supported yet
    count = min(draw(st.integers(at_least, amendments)), term - 1) if amendable else 0
    offsets = sorted(draw(st.sets(st.integers(1, term - 1), min_size=count, max_size=count))) if count else []
    for months in offsets:
        amendment_term = term - months
        amendment = contract.order(add_months(start, months), amendment_term, amends=initial)
        on_cycle = months % interval == 0
        for _ in range(draw(st.integers(1, 3))):
            action = draw(st.sampled_from(("add", "zero", "reduce") if on_cycle else ("add", "zero")))
            original = draw(st.sampled_from(initial_lines))
            revises = {"SBQQ__RevisedOrderProduct__c": original.line["Id"]}
            if action == "reduce" and remaining[original.line["Id"]] > 0:
                units = draw(st.integers(1, remaining[original.line["Id"]]))
                remaining[original.line["Id"]] -= units
                contract.line(amendment, original.entry, original.per_period, -units, amendment_term, **revises)
            elif action == "zero":
                contract.line(amendment, original.entry, original.per_period, 0, amendment_term, **revises)
            else:
                per_period = draw(period_amounts(currency, interval))
                entry = contract.product(per_period, equal=draw(st.booleans()))
                contract.line(amendment, entry, per_period, draw(st.integers(1, 40)), amendment_term)
    return contract.facts


@st.composite
def mdq_contracts(draw: Any) -> ContractFacts:
    """An MDQ ramp: 1-3 yearly segments of one product (quantities 0-30, a 0 is a pause), optionally with an
    unsegmented add-on, billed monthly, quarterly or annually."""
    currency = draw(st.sampled_from(CURRENCIES))
    frequency, interval = draw(st.sampled_from(FREQUENCIES))
    segments = draw(st.integers(1, 3))
    start = date(draw(st.integers(2025, 2026)), draw(st.integers(1, 12)), draw(st.integers(1, 28)))
    contract = _Contract(draw, currency, frequency, interval, start, 12 * segments)
    contract.facts.kind = "mdq"
    initial = contract.order(start, 12 * segments)
    per_period = draw(period_amounts(currency, interval, low=1))
    seat = contract.product(per_period, equal=draw(st.booleans()))
    quantities = draw(st.lists(st.integers(0, 30), min_size=segments, max_size=segments))
    if not any(quantities):
        quantities[0] = draw(st.integers(1, 30))
    for index, quantity in enumerate(quantities, start=1):
        begins = add_months(start, 12 * (index - 1))
        segment = {
            "SBQQ__SegmentIndex__c": index,
            "SBQQ__SegmentKey__c": "SEG-1",
            "SBQQ__PriceDimension__c": "SEG-1-YEAR",
            "SBQQ__DimensionType__c": "Year",
            "ServiceDate": begins.isoformat(),
            "EndDate": (add_months(begins, 12) - timedelta(days=1)).isoformat(),
        }
        contract.line(initial, seat, per_period, quantity, 12, **segment)
    if draw(st.booleans()):
        addon_price = draw(amounts(currency))
        addon = contract.product(addon_price, equal=True)
        contract.line(initial, addon, addon_price, draw(st.integers(1, 10)), 12 * segments)
    return contract.facts
