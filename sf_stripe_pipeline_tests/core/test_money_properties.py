"""Properties of the functional core over random contracts (issue 7 items 2 and 3), with hypothesis.

(a) What a schedule bills over the term equals CPQ's net total to the minor unit: Stripe bills each item present
    on a billing date for a whole period (proration_behavior=none, cycles anchored on the schedule's start; only
    periods that fit in the term), and every `add_invoice_items` entry once.
(b) A line whose per-period amount equals its PricebookEntry's price uses the price book's price (or, where Stripe
    forbids a price twice in a phase, a copy marked as one); a 0 delta line makes no price at all, and every price
    made only for this contract (line, copy and proration prices) is used by the schedule.
(c) `unit_amount_decimal` never has more than 12 decimal places.
(d) Every operation the planner emits passes preflight: on a first sync (creates and cancels), and on a later sync
    that amends, terminates or ends a schedule Stripe has been running since (updates and cancels).
(e) Any valid consumption schedule (F19) is a tiered price with its tiers sorted, the unbounded one last, each
    amount exactly the rate's price in minor units, and Stripe accepts it.
(f) With Month+Day precision (F32), a mid-month amendment's proration is exactly its billing period's price (CPQ's
    UnitPrice over the months and days to the end) times the months and days to the next billing date over the
    period, within the 12th place, and Stripe accepts it.

Example counts are kept small (tens per property) so the whole file takes seconds; `derandomize` makes every run
draw the same examples, so a failure reproduces.
"""

from __future__ import annotations

import copy
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sf_stripe_pipeline.core.amendments import next_billing_date, span_months
from sf_stripe_pipeline.core.contracts import build_contracts
from sf_stripe_pipeline.core.desired import REF_KEY, DesiredObject
from sf_stripe_pipeline.core.drafting import ContractDraft, TranslationContext, draft_contract
from sf_stripe_pipeline.core.mapping import DataMapper
from sf_stripe_pipeline.core.money import (
    UNIT_AMOUNT_PLACES,
    add_months,
    decimal_places,
    midnight_timestamp,
    minor_unit_factor,
)
from sf_stripe_pipeline.core.org import OrgSnapshot
from sf_stripe_pipeline.core.plan import build_plan

from .builders import INSTANCE_URL, OrgBuilder, config
from .contracts_strategy import (
    CURRENCIES,
    FREQUENCIES,
    ContractFacts,
    amounts,
    in_currency,
    mdq_contracts,
    renewable_contracts,
)

PROPERTIES = settings(
    max_examples=60, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow]
)
BEFORE_EVERYTHING = date(2024, 6, 1)
"""A "today" before every drawn contract: nothing is backdated or ended by the clock."""


def _assess(org: OrgSnapshot, today: date) -> ContractDraft:
    """The contract's draft: its desired objects (each address once, as desired_state merges them) and the problems
    drafting finds. The pandera schemas and structural rules are left out: the strategies only draw well-formed
    records, and the properties are about drafting and planning (and the schemas would make each example slow)."""
    mapped = config()
    (contract,) = build_contracts(org)
    draft = draft_contract(TranslationContext(org, mapped, DataMapper(mapped), today, INSTANCE_URL), contract)
    first_seen: dict[str, DesiredObject] = {}
    for desired in draft.objects:
        first_seen.setdefault(desired.address, desired)
    draft.objects = list(first_seen.values())
    return draft


def _key(reference: dict) -> str:
    return reference[REF_KEY].split(":", 1)[1]


def _billed_minor(facts: ContractFacts, assessment: ContractDraft) -> Decimal:
    """What Stripe bills for the schedule over the term, in minor units (see the module docstring)."""
    prices = {o.key: Decimal(o.params["unit_amount_decimal"]) for o in assessment.objects if o.stripe_object == "price"}
    schedule = next(o for o in assessment.objects if o.stripe_object == "subscription_schedule")
    phases = schedule.params["phases"]
    starts = [schedule.params["start_date"], *(phase["end_date"] for phase in phases[:-1])]
    total = Decimal(0)
    period = 0
    while add_months(facts.start, (period + 1) * facts.interval) <= facts.end:
        billing_date = midnight_timestamp(add_months(facts.start, period * facts.interval))
        for phase, begins in zip(phases, starts, strict=True):
            if begins <= billing_date < phase["end_date"]:
                total += sum((prices[_key(item["price"])] * item["quantity"] for item in phase["items"]), Decimal(0))
        period += 1
    for phase in phases:
        for item in phase.get("add_invoice_items", []):
            total += prices[_key(item["price"])] * item["quantity"]
    return total


def _whole(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal(1), rounding=ROUND_HALF_UP)


@PROPERTIES
@given(st.one_of(renewable_contracts(), mdq_contracts()))
def test_a_schedule_bills_cpqs_net_total_to_the_minor_unit(facts: ContractFacts) -> None:
    assessment = _assess(facts.builder.snapshot(), BEFORE_EVERYTHING)
    assert assessment.problems == []
    billed = _billed_minor(facts, assessment)
    assert _whole(billed) == facts.cpq_total_minor
    assert abs(billed - facts.cpq_total_minor) < Decimal("1e-6")  # only the 12th-place rounding of each price


@PROPERTIES
@given(st.one_of(renewable_contracts(), mdq_contracts()))
def test_a_price_equal_to_the_price_books_is_the_price_books_and_amounts_have_twelve_places(
    facts: ContractFacts,
) -> None:
    assessment = _assess(facts.builder.snapshot(), BEFORE_EVERYTHING)
    prices = {o.key: o for o in assessment.objects if o.stripe_object == "price"}
    for price in prices.values():
        amount = price.params["unit_amount_decimal"]
        assert decimal_places(amount) <= UNIT_AMOUNT_PLACES and "e" not in amount.lower()
    schedule = next(o for o in assessment.objects if o.stripe_object == "subscription_schedule")
    used = {_key(entry["price"]) for phase in schedule.params["phases"]
            for entry in (*phase["items"], *phase.get("add_invoice_items", []))}  # fmt: skip
    assert {key for key, price in prices.items() if price.params["metadata"].get("salesforce_auto_archive")} <= used
    for line in facts.lines:
        own = [key for key in prices if key == line.line["Id"] or key.startswith(f"{line.line['Id']}-")]
        if line.line["Quantity"] < 0 or (line.line["Quantity"] == 0 and facts.kind != "mdq"):
            assert own == []  # a reduction or a 0 delta makes no price (a paused segment may need one)
        elif line.equals_price_book:
            book = prices[line.entry["Id"]]
            assert Decimal(book.params["unit_amount_decimal"]) == Decimal(line.entry["UnitPrice"]) * (
                1 if facts.currency in ("JPY", "UGX") else 1000 if facts.currency == "KWD" else 100
            )
            for key in own:
                metadata = prices[key].params["metadata"]
                is_copy = metadata.get("salesforce_duplicate") == "true"
                assert is_copy or metadata.get("salesforce_proration") == "true", f"a duplicate line price {key}"
                if is_copy:
                    assert prices[key].params["unit_amount_decimal"] == book.params["unit_amount_decimal"]


# -- (d) every request passes preflight, on a first sync and on a later one --------------------------------------


SHAPES = ("new", "amended", "terminated", "terminated on its first day", "ramp")


@st.composite
def lifecycles(draw: Any) -> tuple[ContractFacts, date, date]:
    """A contract of a drawn shape (new; amended; amended then terminated on a billing date; terminated on its
    first day; an MDQ ramp with pauses) and two sync days: the first sees only the initial order, the second every
    amendment, with Stripe running the schedule in between. The second day is drawn among the days that matter:
    before the start, the start, a phase boundary, the termination day, the end and after it."""
    shape = draw(st.sampled_from(SHAPES))
    if shape == "ramp":
        facts = draw(mdq_contracts())
    else:
        amendments = 2 if shape in ("amended", "terminated") else 0
        facts = draw(renewable_contracts(amendments=amendments, at_least=int(shape == "amended")))
    term_months = _months_between(facts.start, facts.end)
    terminated_on = None
    last = max([0, *(_months_between(facts.start, day) for day in _amendment_starts(facts))])
    billing_months = range(-(-last // facts.interval) * facts.interval, term_months, facts.interval)
    if shape.startswith("terminated") and term_months % facts.interval == 0 and billing_months:
        months = 0 if shape.endswith("first day") else draw(st.sampled_from(billing_months))
        terminated_on = add_months(facts.start, months)
        _terminate(facts, terminated_on, term_months - months)
    days = [facts.start - timedelta(days=5), facts.start, facts.start + (facts.end - facts.start) / 2, facts.end,
            facts.end + timedelta(days=10), *(o_start for o_start in _amendment_starts(facts))]  # fmt: skip
    if terminated_on is not None:
        days.append(terminated_on)
    second = draw(st.sampled_from(sorted(set(days))))
    first = draw(st.sampled_from([day for day in sorted(set(days)) if day <= second]))
    return facts, first, second


def _months_between(start: date, day: date) -> int:
    return (day.year - start.year) * 12 + day.month - start.month


def _amendment_starts(facts: ContractFacts) -> list[date]:
    quotes = {quote["Id"]: quote for quote in facts.builder.org["SBQQ__Quote__c"]}
    amendments = facts.builder.org["Order"][1:]
    return [date.fromisoformat(quotes[order["SBQQ__Quote__c"]]["SBQQ__StartDate__c"]) for order in amendments]


def _terminate(facts: ContractFacts, on: date, term: int) -> None:
    """An amendment from `on` netting every item of the contract to 0 (F35)."""
    builder = facts.builder
    initial = builder.org["Order"][0]
    quote = {"SBQQ__StartDate__c": on.isoformat(), "SBQQ__SubscriptionTerm__c": term}
    account = {"Id": initial["AccountId"]}
    termination = builder.order(account, amends=initial, quote=quote, CurrencyIsoCode=facts.currency)
    held: dict[str, tuple[dict, int]] = {}
    for line in builder.org["OrderItem"]:
        if line["OrderId"] != termination["Id"]:
            origin = line.get("SBQQ__RevisedOrderProduct__c") or line["Id"]
            first_line, quantity = held.get(origin, (line, 0))
            held[origin] = (first_line, quantity + int(line["Quantity"]))
    entries = {entry["Id"]: entry for entry in builder.org["PricebookEntry"]}
    for origin, (line, quantity) in held.items():
        if quantity > 0:
            builder.line(
                termination,
                entries[line["PricebookEntryId"]],
                quantity=-quantity,
                unit_price=0,
                SBQQ__RevisedOrderProduct__c=origin,
                SBQQ__SubscriptionTerm__c=term,
                SBQQ__BillingFrequency__c=line["SBQQ__BillingFrequency__c"],
                CurrencyIsoCode=facts.currency,
            )


def _org_without_amendments(facts: ContractFacts) -> OrgSnapshot:
    org = copy.deepcopy(facts.builder.org)
    initial_id = org["Order"][0]["Id"]
    for order in org["Order"]:
        if order["Id"] != initial_id:
            order["Status"] = "Draft"
    return OrgSnapshot.from_rest(org)


def _desired(org: OrgSnapshot, today: date) -> list[DesiredObject]:
    """What desired_state keeps of the contract: its objects when drafting found no problem."""
    draft = _assess(org, today)
    return [] if draft.problems else draft.objects


def _as_stripe_runs_it(schedule: DesiredObject, now: int) -> dict:
    """The schedule Stripe holds `now` after creating it from `schedule`: its status and current phase."""
    phases = schedule.params["phases"]
    starts = [schedule.params["start_date"], *(phase["end_date"] for phase in phases[:-1])]
    held = [{**phase, "start_date": begins} for phase, begins in zip(phases, starts, strict=True)]
    if schedule.end_now is not None or not held:
        return {"id": "sub_sched_1", "status": "canceled", "customer": "cus_1", "phases": held}
    if now < held[0]["start_date"]:
        status, current = "not_started", None
    elif now >= held[-1]["end_date"]:
        status, current = "completed", None
    else:
        status = "active"
        current = next({"start_date": p["start_date"], "end_date": p["end_date"]} for p in held if now < p["end_date"])
    return {"id": "sub_sched_1", "status": status, "customer": "cus_1", "current_phase": current, "phases": held}


def _noon(day: date) -> int:
    return midnight_timestamp(day) + 12 * 3600


@PROPERTIES
@given(lifecycles())
def test_every_planned_request_passes_preflight_on_the_first_and_a_later_sync(
    lifecycle: tuple[ContractFacts, date, date],
) -> None:
    facts, first_day, second_day = lifecycle
    # The first sync: everything is created (and cancelled at once if Salesforce says it has ended).
    first_org = _org_without_amendments(facts)
    first = _desired(first_org, first_day)
    if not first:
        return  # rejected (e.g. a backdated start the first day): nothing is planned
    created = build_plan(first, {}, now=_noon(first_day))
    assert created.notes == [], [note.message for note in created.notes]
    # A later sync with every amendment, against the schedule Stripe has been running since.
    later = _desired(facts.builder.snapshot(), second_day)
    if not later:
        return
    schedule = next(o for o in first if o.stripe_object == "subscription_schedule")
    actual: dict[str, dict | None] = {o.address: None for o in later}
    actual[schedule.address] = _as_stripe_runs_it(schedule, _noon(second_day))
    customer = next(o for o in later if o.stripe_object == "customer")
    actual[customer.address] = {"id": "cus_1", "object": "customer"}
    plan = build_plan(later, actual, now=_noon(second_day))
    assert [note.message for note in plan.notes if "would be refused" in note.message] == []


# -- (e) tiered prices (F19) -----------------------------------------------------------------------------------


@st.composite
def consumption_schedules(draw: Any) -> tuple[str, str, list[tuple[int | None, str, Decimal]]]:
    """A valid consumption schedule in a drawn currency: 1-5 rates with distinct whole bounds and one blank, listed
    in any order, each PerUnit or FlatFee at the currency's precision (CPQ's)."""
    currency = draw(st.sampled_from(CURRENCIES))
    bounds = sorted(draw(st.sets(st.integers(1, 1_000_000), max_size=4)))
    rates = [
        (bound, draw(st.sampled_from(("PerUnit", "FlatFee"))), draw(amounts(currency, high=10_000_000)))
        for bound in [*bounds, None]
    ]
    return currency, draw(st.sampled_from(("Range", "Slab"))), draw(st.permutations(rates))


@PROPERTIES
@given(consumption_schedules())
def test_any_valid_consumption_schedule_is_an_exact_sorted_tiered_price_stripe_accepts(
    drawn: tuple[str, str, list[tuple[int | None, str, Decimal]]],
) -> None:
    currency, schedule_type, rates = drawn
    builder = OrgBuilder()
    product = builder.product(SBQQ__BillingType__c="Arrears", CurrencyIsoCode=currency)
    entry = builder.entry(product, 0, CurrencyIsoCode=currency)
    order = builder.order(builder.account(), CurrencyIsoCode=currency)
    builder.line(order, entry, quantity=1, unit_price=0, CurrencyIsoCode=currency, SBQQ__BillingType__c="Arrears")
    schedule = builder._add("ConsumptionSchedule", "0sc", {"Type": schedule_type, "RatingMethod": "Tier", "IsActive": True})
    builder._add("ProductConsumptionSchedule", "0sp", {"ProductId": product["Id"], "ConsumptionScheduleId": schedule["Id"]})
    for bound, method, price in rates:
        builder._add("ConsumptionRate", "0sr", {"ConsumptionScheduleId": schedule["Id"], "UpperBound": bound,
                                                "PricingMethod": method, "Price": price})  # fmt: skip
    draft = _assess(builder.snapshot(), BEFORE_EVERYTHING)
    assert draft.problems == []
    (price,) = [o for o in draft.objects if o.stripe_object == "price"]
    tiers = price.params["tiers"]
    ordered = sorted(rates, key=_bound_order)
    assert [tier["up_to"] for tier in tiers] == [bound or "inf" for bound, _, _ in ordered]
    factor = minor_unit_factor(currency)
    for tier, (_, method, amount) in zip(tiers, ordered, strict=True):
        name = "unit_amount_decimal" if method == "PerUnit" else "flat_amount_decimal"
        assert Decimal(tier[name]) == amount * factor and decimal_places(tier[name]) <= UNIT_AMOUNT_PLACES
    assert build_plan(draft.objects, {}, now=midnight_timestamp(BEFORE_EVERYTHING)).notes == []


def _bound_order(rate: tuple[int | None, str, Decimal]) -> tuple[bool, int]:
    return (rate[0] is None, rate[0] or 0)


# -- (f) Month+Day proration (F32) ------------------------------------------------------------------------------


@st.composite
def mid_month_amendments(draw: Any) -> tuple[ContractFacts, date, Fraction]:
    """A renewable contract of whole billing periods and one amendment adding a line on another day of the month
    than the contract's, priced by CPQ's Monthly + Daily precision (for its months and days to the end, rounded to
    the currency). Returns the facts, the amendment's start and its term in months (days at 12/365)."""
    currency = draw(st.sampled_from(CURRENCIES))
    frequency, interval = draw(st.sampled_from(FREQUENCIES))
    start = date(draw(st.integers(2025, 2026)), draw(st.integers(1, 12)), draw(st.integers(1, 28)))
    term = draw(st.integers(1, 3)) * interval
    end = add_months(start, term)
    builder = OrgBuilder()
    account = builder.account()
    facts = ContractFacts(builder, currency, interval, start, end)
    quote = {"SBQQ__StartDate__c": start.isoformat(), "SBQQ__SubscriptionTerm__c": term, "CurrencyIsoCode": currency}
    initial = builder.order(account, quote=quote, CurrencyIsoCode=currency)
    seat = builder.entry(builder.product(SBQQ__BillingFrequency__c=frequency), 10, CurrencyIsoCode=currency)
    builder.line(initial, seat, quantity=1, unit_price=Decimal(10) * term / interval, SBQQ__SubscriptionTerm__c=term,
                 SBQQ__BillingFrequency__c=frequency, CurrencyIsoCode=currency)  # fmt: skip
    last = add_months(end, -1)  # CPQ's amendment term is its whole months: at least one
    amended_on = start + timedelta(days=draw(st.integers(1, max((last - start).days - 1, 1))))
    if amended_on.day == start.day:
        amended_on += timedelta(days=1)
    assume(amended_on < last)
    months = span_months(amended_on, end, "month_and_day")
    per_period = draw(amounts(currency, low=1))
    unit_price = in_currency(per_period * months.numerator / (interval * months.denominator), currency)
    quote = {"SBQQ__StartDate__c": amended_on.isoformat(), "SBQQ__SubscriptionTerm__c": int(months),
             "SBQQ__EndDate__c": (end - timedelta(days=1)).isoformat(), "CurrencyIsoCode": currency}  # fmt: skip
    amendment = builder.order(account, quote=quote, amends=initial, CurrencyIsoCode=currency)
    extra = builder.entry(builder.product(Name="Extra", SBQQ__BillingFrequency__c=frequency), per_period,
                          CurrencyIsoCode=currency)  # fmt: skip
    builder.line(amendment, extra, quantity=draw(st.integers(1, 20)), unit_price=unit_price,
                 SBQQ__SubscriptionTerm__c=int(months), SBQQ__BillingFrequency__c=frequency, CurrencyIsoCode=currency,
                 SBQQ__ProrateMultiplier__c=Decimal(months.numerator) / (interval * months.denominator))  # fmt: skip
    return facts, amended_on, months


@PROPERTIES
@given(mid_month_amendments())
def test_month_and_day_prorates_exactly_to_the_next_billing_date_and_stripe_accepts_it(
    drawn: tuple[ContractFacts, date, Fraction],
) -> None:
    facts, amended_on, months = drawn
    settings = config(prorate_precision="month_and_day", non_anniversary_amendments=True)
    org = facts.builder.snapshot()
    (contract,) = build_contracts(org)
    draft = draft_contract(TranslationContext(org, settings, DataMapper(settings), BEFORE_EVERYTHING, INSTANCE_URL),
                           contract)  # fmt: skip
    assert draft.problems == []
    line = facts.builder.org["OrderItem"][-1]
    prorations = [o for o in draft.objects if o.key == f"{line['Id']}-proration"]
    next_billing = next_billing_date(facts.start, facts.interval, amended_on)
    share = span_months(amended_on, next_billing, "month_and_day")
    if not prorations:
        assert share == 0
        return
    whole_term = Decimal(str(line["UnitPrice"])) * minor_unit_factor(facts.currency)
    exact = whole_term * facts.interval * months.denominator / months.numerator  # a billing period, F18
    exact = exact * share.numerator / (facts.interval * share.denominator)
    amount = prorations[0].params["unit_amount_decimal"]
    assert decimal_places(amount) <= UNIT_AMOUNT_PLACES
    assert abs(Decimal(amount) - exact) <= Decimal("5e-13")
    assert build_plan(_unique(draft.objects), {}, now=midnight_timestamp(BEFORE_EVERYTHING)).notes == []


def _unique(objects: list[DesiredObject]) -> list[DesiredObject]:
    first_seen: dict[str, DesiredObject] = {}
    for desired in objects:
        first_seen.setdefault(desired.address, desired)
    return list(first_seen.values())
