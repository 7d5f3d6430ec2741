"""Preflight: would Stripe accept this request? A pure check of one planned operation against Stripe's rules.

The drafters and the planner are written never to produce a request Stripe refuses (issue 7 item 2); preflight is
the net under them. It knows the rules a request can break on its own or against the object it changes:
required parts (phase items, a coupon's currency), value ranges (quantities, percentages, 12 decimal places),
phase timelines (each phase ends after it starts, no phase already over, the current phase's start never moved),
one price once per phase, and operations on objects that have ended (a cancelled schedule, a deleted customer).
`build_plan` runs it on every operation: an operation that breaks a rule becomes a `PlanningNote` naming the rule,
and every operation of its contracts is withheld, so a drafting bug is an error on the orders it concerns, never a
400 from Stripe, and never half of a contract in Stripe.

Rules are named; the message says what Stripe would answer. Sources: Stripe's API reference for subscription
schedules, subscriptions, prices, coupons and invoice items (the pinned stripe-python's API version), and the
behaviour of the Stripe sandbox, which emulates them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sf_stripe_pipeline.core.desired import REF_KEY, is_ref, refs_in
from sf_stripe_pipeline.core.money import UNIT_AMOUNT_PLACES, decimal_places, is_decimal_string

ENDED_SCHEDULE_STATUSES = frozenset({"canceled", "completed", "released"})
ENDED_SUBSCRIPTION_STATUSES = frozenset({"canceled", "incomplete_expired"})
PRORATION_BEHAVIORS = frozenset({"always_invoice", "create_prorations", "none"})
END_BEHAVIORS = frozenset({"cancel", "none", "release", "renew"})
COUPON_DURATIONS = frozenset({"forever", "once", "repeating"})
INTERVALS = {"day": 1095, "week": 156, "month": 36, "year": 3}
"""Recurring intervals and their largest count: Stripe allows at most three years between invoices."""
USAGE_TYPES = frozenset({"licensed", "metered"})
BILLING_SCHEMES = frozenset({"per_unit", "tiered"})
TIERS_MODES = frozenset({"graduated", "volume"})
TIER_AMOUNTS = ("unit_amount_decimal", "flat_amount_decimal")
PENDING_ITEMS = frozenset({"exclude", "include"})
PERIOD_START_TYPES = frozenset({"max_item_period_start", "phase_start", "timestamp"})
PERIOD_END_TYPES = frozenset({"min_item_period_end", "phase_end", "timestamp"})
NOW = "now"


@dataclass(frozen=True)
class Refusal:
    """Why Stripe would refuse a request: the rule, the parameter it concerns, and Stripe's reason."""

    rule: str
    param: str
    message: str

    def describe(self) -> str:
        return f"{self.param}: {self.message} [preflight: {self.rule}]"


def refusals(
    stripe_object: str,
    operation: str,
    params: Mapping[str, Any],
    *,
    now: int | None = None,
    current: Mapping[str, Any] | None = None,
    unavailable: Iterable[str] = (),
) -> list[Refusal]:
    """Every rule the request breaks. `current`: the Stripe object it changes (Stripe's JSON), None for a create;
    `unavailable`: addresses ("customer:001...") of objects Stripe cannot use (deleted), which no request may name;
    `now`: the Unix time Stripe runs on (no check that needs it without)."""
    found = list(_unavailable_references(params, frozenset(unavailable)))
    check = _CHECKS.get((stripe_object, operation))
    if check is not None:
        found += check(params, now, current or {})
    return found


# -- shared pieces ----------------------------------------------------------------------------------------------


def _unavailable_references(params: Mapping[str, Any], unavailable: frozenset[str]) -> Iterator[Refusal]:
    for address in sorted(set(refs_in(params)) & unavailable):
        yield Refusal(
            "unavailable_reference", address, f"names {address}, which Stripe cannot use any more (it was deleted)"
        )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return _is_int(value) or isinstance(value, Decimal | float) or is_decimal_string(value)


def _number(value: Any) -> Decimal:
    return Decimal(str(value)) if not isinstance(value, Decimal) else value


def _price_key(item: Mapping[str, Any]) -> str | None:
    price = item.get("price")
    if is_ref(price):
        return str(price[REF_KEY])
    return str(price) if price else None


def _quantity(item: Mapping[str, Any], param: str, *, minimum: int) -> Iterator[Refusal]:
    if "quantity" not in item:
        return
    quantity = item["quantity"]
    if not _is_int(quantity) or quantity < minimum:
        yield Refusal(
            "item_quantity", f"{param}[quantity]", f"must be a whole number of at least {minimum}, not {quantity!r}"
        )


def _items(items: Any, param: str, *, subscription_update: bool = False) -> Iterator[Refusal]:
    """Phase or subscription items: at least one, each with a price and a whole quantity, no price twice."""
    if not isinstance(items, list) or not items:
        yield Refusal("empty_items", param, f"Missing required param: {param} (at least one item)")
        return
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        item_param = f"{param}[{index}]"
        if subscription_update and "id" in item:
            if item.get("deleted") not in (None, True):
                yield Refusal("item_shape", f"{item_param}[deleted]", "only `true` deletes an item")
            yield from _quantity(item, item_param, minimum=0)
            continue
        key = _price_key(item)
        if key is None:
            yield Refusal("item_price", f"{item_param}[price]", "Missing required param: a price for the item")
            continue
        if key in seen:
            yield Refusal(
                "duplicate_price",
                f"{item_param}[price]",
                f"the price {key} is already item {seen[key]}: a price may be used once per phase or subscription",
            )
        seen.setdefault(key, index)
        yield from _quantity(item, item_param, minimum=0)


def _discounts(discounts: Any, param: str) -> Iterator[Refusal]:
    for index, discount in enumerate(discounts or []):
        given = [key for key in ("coupon", "discount", "promotion_code") if discount.get(key)]
        if len(given) != 1:
            yield Refusal(
                "discount_shape", f"{param}[{index}]", "a discount names exactly one coupon, discount or promotion code"
            )


def _enum(value: Any, allowed: frozenset[str], rule: str, param: str) -> Iterator[Refusal]:
    if value is not None and value not in allowed:
        yield Refusal(rule, param, f"Invalid {param}: must be one of {', '.join(sorted(allowed))}, not {value!r}")


# -- prices and coupons -----------------------------------------------------------------------------------------


def _price_create(params: Mapping[str, Any], now: int | None, current: Mapping[str, Any]) -> list[Refusal]:
    found: list[Refusal] = []
    if not params.get("product"):
        found.append(Refusal("price_product", "product", "Missing required param: product"))
    if not params.get("currency"):
        found.append(Refusal("price_currency", "currency", "Missing required param: currency"))
    for name in ("unit_amount_decimal", "flat_amount_decimal"):
        if name in params:
            found += _decimal_amount(params[name], name)
    scheme = params.get("billing_scheme", "per_unit")
    found += _enum(scheme, BILLING_SCHEMES, "billing_scheme", "billing_scheme")
    if scheme == "per_unit" and "unit_amount_decimal" not in params:
        found.append(Refusal("price_amount", "unit_amount_decimal", "a per-unit price needs an amount"))
    if scheme == "tiered":
        found += _tiered(params)
    elif "tiers" in params or "tiers_mode" in params:
        found.append(Refusal("price_tiers", "tiers", "`tiers` can only be set when `billing_scheme` is `tiered`"))
    recurring = params.get("recurring")
    if recurring is not None:
        interval, count = recurring.get("interval"), recurring.get("interval_count", 1)
        if interval not in INTERVALS:
            found.append(Refusal("price_interval", "recurring[interval]", f"Invalid interval {interval!r}"))
        elif not _is_int(count) or not 1 <= count <= INTERVALS[interval]:
            found.append(
                Refusal(
                    "price_interval",
                    "recurring[interval_count]",
                    f"{count!r} {interval}s: an interval is 1 to {INTERVALS[interval]} {interval}s (three years)",
                )
            )
        found += _enum(recurring.get("usage_type"), USAGE_TYPES, "price_usage_type", "recurring[usage_type]")
    return found


def _decimal_amount(value: Any, param: str) -> list[Refusal]:
    if not is_decimal_string(value):
        return [Refusal("decimal_amount", param, f"Invalid decimal: {value!r}")]
    if Decimal(value) < 0:
        return [Refusal("decimal_amount", param, f"{value} is negative: a price amount must be 0 or more")]
    if decimal_places(value) > UNIT_AMOUNT_PLACES:
        return [
            Refusal(
                "decimal_amount",
                param,
                f"{value} has {decimal_places(value)} decimal places; Stripe takes at most {UNIT_AMOUNT_PLACES}",
            )
        ]
    return []


def _tiered(params: Mapping[str, Any]) -> list[Refusal]:
    """F19: a tiered price is recurring, has a mode and tiers (no flat unit amount); each tier is priced by a unit
    and/or a flat amount, and the `up_to` bounds are ascending whole numbers with only the last `inf`."""
    found: list[Refusal] = []
    if params.get("recurring") is None:
        found.append(Refusal("price_tiers", "recurring", "Tiered prices (`billing_scheme=tiered`) must be recurring"))
    if "unit_amount_decimal" in params:
        found.append(Refusal("price_tiers", "unit_amount_decimal", "cannot be used with `billing_scheme=tiered`"))
    if params.get("tiers_mode") not in TIERS_MODES:
        found.append(Refusal("price_tiers", "tiers_mode", f"Invalid tiers_mode {params.get('tiers_mode')!r}"))
    tiers = params.get("tiers")
    if not isinstance(tiers, list) or not tiers:
        return [*found, Refusal("price_tiers", "tiers", "Missing required param: tiers")]
    previous = 0
    for index, tier in enumerate(tiers):
        param = f"tiers[{index}]"
        amounts = [name for name in TIER_AMOUNTS if name in tier]
        if not amounts:
            found.append(Refusal("price_tiers", param, "each tier needs a unit_amount or a flat_amount"))
        for name in amounts:
            found += _decimal_amount(tier[name], f"{param}[{name}]")
        up_to, last = tier.get("up_to"), index == len(tiers) - 1
        if up_to == "inf":
            if not last:
                found.append(Refusal("price_tiers", f"{param}[up_to]", "Only the last tier can have `up_to=inf`."))
        elif last:
            found.append(Refusal("price_tiers", f"{param}[up_to]", "The last tier must have `up_to=inf`."))
        elif not _is_int(up_to) or up_to <= previous:
            found.append(
                Refusal("price_tiers", f"{param}[up_to]", f"{up_to!r}: tiers end at ascending whole numbers")
            )
        else:
            previous = up_to
    return found


def _price_update(params: Mapping[str, Any], now: int | None, current: Mapping[str, Any]) -> list[Refusal]:
    changeable = {"active", "metadata", "nickname", "lookup_key", "tax_behavior", "transfer_lookup_key"}
    return [
        Refusal("price_immutable", name, f"a price's {name} cannot change; a new price is needed")
        for name in sorted(set(params) - changeable)
    ]


def _coupon_create(params: Mapping[str, Any], now: int | None, current: Mapping[str, Any]) -> list[Refusal]:
    found: list[Refusal] = []
    percent, amount = params.get("percent_off"), params.get("amount_off")
    if (percent is None) == (amount is None):
        found.append(Refusal("coupon_discount", "percent_off", "You must pass either `percent_off` or `amount_off`."))
    if amount is not None:
        if not _is_int(amount) or amount <= 0:
            found.append(Refusal("coupon_amount", "amount_off", f"Invalid amount_off {amount!r}: a positive integer"))
        if not params.get("currency"):
            found.append(Refusal("coupon_currency", "currency", "You must pass `currency` when passing `amount_off`."))
    if percent is not None and (not _is_number(percent) or not 0 < _number(percent) <= 100):
        found.append(Refusal("coupon_percent", "percent_off", f"{percent!r} must be above 0 and at most 100"))
    duration = params.get("duration", "once")
    found += _enum(duration, COUPON_DURATIONS, "coupon_duration", "duration")
    months = params.get("duration_in_months")
    if duration == "repeating" and (not _is_int(months) or months < 1):
        found.append(
            Refusal("coupon_duration", "duration_in_months", "a repeating coupon needs a whole number of months")
        )
    if duration != "repeating" and months is not None:
        found.append(Refusal("coupon_duration", "duration_in_months", "only a repeating coupon takes months"))
    redemptions = params.get("max_redemptions")
    if redemptions is not None and (not _is_int(redemptions) or redemptions < 1):
        found.append(Refusal("coupon_redemptions", "max_redemptions", f"{redemptions!r}: a positive integer"))
    return found


def _coupon_update(params: Mapping[str, Any], now: int | None, current: Mapping[str, Any]) -> list[Refusal]:
    return [
        Refusal("coupon_immutable", name, f"a coupon's {name} cannot change; a new coupon is needed")
        for name in sorted(set(params) - {"metadata", "name", "currency_options"})
    ]


# -- subscription schedules -------------------------------------------------------------------------------------


def _phases(
    phases: Any, *, start: Any, now: int | None, updating: bool, current_start: int | None
) -> Iterator[Refusal]:
    """A schedule's phases: contiguous from `start`, each ending after it starts, with items; in an update of a
    started schedule, none already over and the current phase's start unchanged."""
    if not isinstance(phases, list) or not phases:
        yield Refusal("empty_phases", "phases", "Missing required param: phases (at least one phase)")
        return
    begins = phases[0].get("start_date", start) if updating else start
    if updating and begins is None:
        yield Refusal("phase_start", "phases[0][start_date]", "an update must give the first phase's start_date")
    if updating and current_start is not None and begins not in (current_start, None):
        yield Refusal(
            "current_phase_start",
            "phases[0][start_date]",
            f"You can not modify the start date of the current phase ({current_start}, not {begins}).",
        )
    for index, phase in enumerate(phases):
        param = f"phases[{index}]"
        if "start_date" in phase and not updating:
            yield Refusal("phase_start", f"{param}[start_date]", "a new schedule's phases take no start_date")
        elif index and "start_date" in phase and phase["start_date"] != begins:
            yield Refusal(
                "phase_gap",
                f"{param}[start_date]",
                f"phases must be contiguous: it starts {phase['start_date']!r}, the phase before ends {begins!r}",
            )
        yield from _items(phase.get("items"), f"{param}[items]")
        ends = phase.get("end_date")
        if ends is None and index < len(phases) - 1:
            yield Refusal("phase_end", f"{param}[end_date]", "every phase but the last needs an end_date")
        elif ends is not None:
            yield from _phase_end(ends, begins, param, now=now, updating=updating)
        yield from _enum(phase.get("proration_behavior"), PRORATION_BEHAVIORS, "proration_behavior", param)
        yield from _discounts(phase.get("discounts"), f"{param}[discounts]")
        for item_index, item in enumerate(phase.get("add_invoice_items") or []):
            yield from _invoice_item(item, f"{param}[add_invoice_items][{item_index}]")
        begins = ends


def _phase_end(ends: Any, begins: Any, param: str, *, now: int | None, updating: bool) -> Iterator[Refusal]:
    if ends == NOW:
        if not updating:
            yield Refusal("phase_end", f"{param}[end_date]", "`now` ends a phase only in an update")
        elif begins == NOW or (_is_int(begins) and now is not None and begins >= now):
            yield Refusal("phase_order", f"{param}[end_date]", "the phase would end when it starts")
        return
    if not _is_int(ends):
        yield Refusal("phase_end", f"{param}[end_date]", f"Invalid timestamp {ends!r}")
        return
    if _is_int(begins) and ends <= begins:
        yield Refusal("phase_order", f"{param}[end_date]", f"The phase ends ({ends}) at or before it starts ({begins})")
    if updating and now is not None and ends <= now:
        yield Refusal(
            "past_phase",
            f"{param}[end_date]",
            f"the phase ended at {ends}, before now ({now}): ended phases are left out",
        )


def _invoice_item(item: Mapping[str, Any], param: str) -> Iterator[Refusal]:
    if _price_key(item) is None and "price_data" not in item:
        yield Refusal("item_price", f"{param}[price]", "Missing required param: a price for the invoice item")
    if "price_data" in item:
        yield from _credit_price_data(item["price_data"], f"{param}[price_data]")
    yield from _quantity(item, param, minimum=1)
    yield from _discounts(item.get("discounts"), f"{param}[discounts]")
    period = item.get("period")
    if period is not None:
        start, end = period.get("start") or {}, period.get("end") or {}
        yield from _enum(start.get("type"), PERIOD_START_TYPES, "invoice_item_period", f"{param}[period][start][type]")
        yield from _enum(end.get("type"), PERIOD_END_TYPES, "invoice_item_period", f"{param}[period][end][type]")
        for side, given in (("start", start), ("end", end)):
            if given.get("type") == "timestamp" and not _is_int(given.get("timestamp")):
                yield Refusal("invoice_item_period", f"{param}[period][{side}][timestamp]", "Missing timestamp")


def _credit_price_data(price_data: Any, param: str) -> Iterator[Refusal]:
    """An inline one-time price (F36 credits): currency, product and a decimal amount, which may be negative here,
    where Stripe takes a credit, and nowhere else."""
    if not isinstance(price_data, Mapping):
        yield Refusal("price_data", param, "price_data must be a price's parameters")
        return
    for required in ("currency", "product"):
        if not price_data.get(required):
            yield Refusal("price_data", f"{param}[{required}]", f"Missing required param: {param}[{required}]")
    amount = price_data.get("unit_amount_decimal")
    if not is_decimal_string(amount):
        yield Refusal("decimal_amount", f"{param}[unit_amount_decimal]", f"Invalid decimal: {amount!r}")
    elif decimal_places(amount) > UNIT_AMOUNT_PLACES:
        yield Refusal(
            "decimal_amount",
            f"{param}[unit_amount_decimal]",
            f"{amount} has {decimal_places(amount)} decimal places; Stripe takes at most {UNIT_AMOUNT_PLACES}",
        )
    if "recurring" in price_data:
        yield Refusal("price_data", f"{param}[recurring]", "an invoice item's price is one-time")


def _schedule_create(params: Mapping[str, Any], now: int | None, current: Mapping[str, Any]) -> list[Refusal]:
    if "from_subscription" in params:  # F33: the schedule takes the subscription's phase; nothing else is allowed
        return [
            Refusal("from_subscription", name, f"You cannot set `{name}` when `from_subscription` is set.")
            for name in sorted(set(params) - {"from_subscription"})
        ]
    found: list[Refusal] = []
    if not params.get("customer"):
        found.append(Refusal("schedule_customer", "customer", "Missing required param: customer"))
    start = params.get("start_date")
    if not (_is_int(start) or start == NOW):
        found.append(Refusal("phase_start", "start_date", f"Invalid start_date {start!r}"))
    found += _enum(params.get("end_behavior"), END_BEHAVIORS, "end_behavior", "end_behavior")
    found += _phases(params.get("phases"), start=start, now=now, updating=False, current_start=None)
    return found


def _schedule_update(params: Mapping[str, Any], now: int | None, current: Mapping[str, Any]) -> list[Refusal]:
    found = list(_schedule_is_open(current, "update"))
    found += _enum(params.get("end_behavior"), END_BEHAVIORS, "end_behavior", "end_behavior")
    found += _enum(params.get("proration_behavior"), PRORATION_BEHAVIORS, "proration_behavior", "proration_behavior")
    if "phases" in params:
        running = current.get("status") == "active"
        current_start = (current.get("current_phase") or {}).get("start_date") if running else None
        found += _phases(params["phases"], start=None, now=now if running else None, updating=True,
                         current_start=current_start)  # fmt: skip
    return found


def _schedule_is_open(current: Mapping[str, Any], action: str) -> Iterator[Refusal]:
    status = current.get("status")
    if status in ENDED_SCHEDULE_STATUSES:
        yield Refusal(
            "schedule_ended", "status", f"You cannot {action} a subscription schedule that is currently {status}."
        )


def _schedule_cancel(params: Mapping[str, Any], now: int | None, current: Mapping[str, Any]) -> list[Refusal]:
    return list(_schedule_is_open(current, "cancel"))


# -- subscriptions, invoice items, invoices ---------------------------------------------------------------------


def _subscription_terms(params: Mapping[str, Any], now: int | None) -> Iterator[Refusal]:
    if params.get("collection_method") == "send_invoice" and not _is_int(params.get("days_until_due")):
        yield Refusal("days_until_due", "days_until_due", "send_invoice needs a whole number of days_until_due")
    cancel_at = params.get("cancel_at")
    if cancel_at is not None and (not _is_int(cancel_at) or (now is not None and cancel_at <= now)):
        yield Refusal("cancel_at", "cancel_at", f"cancel_at {cancel_at!r} must be a timestamp in the future")
    yield from _discounts(params.get("discounts"), "discounts")


def _subscription_create(params: Mapping[str, Any], now: int | None, current: Mapping[str, Any]) -> list[Refusal]:
    found: list[Refusal] = []
    if not params.get("customer"):
        found.append(Refusal("subscription_customer", "customer", "Missing required param: customer"))
    found += _items(params.get("items"), "items")
    found += _subscription_terms(params, now)
    found += _backdating(params, now)
    return found


def _backdating(params: Mapping[str, Any], now: int | None) -> Iterator[Refusal]:
    """F33: a backdated start is in the past, and a billing cycle anchor in the future, after that start."""
    backdate, anchor = params.get("backdate_start_date"), params.get("billing_cycle_anchor")
    if backdate is not None and (not _is_int(backdate) or (now is not None and backdate >= now)):
        yield Refusal("backdate_start_date", "backdate_start_date", f"{backdate!r} must be a timestamp in the past")
    if anchor is not None and (not _is_int(anchor) or (now is not None and anchor <= now)):
        yield Refusal("billing_cycle_anchor", "billing_cycle_anchor", f"{anchor!r} must be a timestamp in the future")
    if _is_int(backdate) and _is_int(anchor) and anchor <= backdate:
        yield Refusal("billing_cycle_anchor", "billing_cycle_anchor", "the anchor must come after the backdated start")


def _subscription_update(params: Mapping[str, Any], now: int | None, current: Mapping[str, Any]) -> list[Refusal]:
    found = list(_subscription_is_open(current, "update"))
    if "items" in params:
        found += _items(params["items"], "items", subscription_update=True)
    found += _subscription_terms(params, now)
    return found


def _subscription_is_open(current: Mapping[str, Any], action: str) -> Iterator[Refusal]:
    status = current.get("status")
    if status in ENDED_SUBSCRIPTION_STATUSES:
        yield Refusal("subscription_ended", "status", f"You cannot {action} a subscription that is {status}.")


def _subscription_cancel(params: Mapping[str, Any], now: int | None, current: Mapping[str, Any]) -> list[Refusal]:
    return list(_subscription_is_open(current, "cancel"))


def _invoice_item_create(params: Mapping[str, Any], now: int | None, current: Mapping[str, Any]) -> list[Refusal]:
    found: list[Refusal] = []
    if not params.get("customer"):
        found.append(Refusal("invoice_item_customer", "customer", "Missing required param: customer"))
    if not (params.get("pricing") or {}).get("price") and "price_data" not in params and "amount" not in params:
        found.append(Refusal("item_price", "pricing[price]", "Missing required param: a price for the invoice item"))
    found += _quantity(params, "invoice_item", minimum=1)
    period = params.get("period")
    if period is not None and not (_is_int(period.get("start")) and _is_int(period.get("end"))):
        found.append(Refusal("invoice_item_period", "period", "a period needs start and end timestamps"))
    elif period is not None and period["end"] < period["start"]:
        found.append(Refusal("invoice_item_period", "period[end]", "the period ends before it starts"))
    found += _discounts(params.get("discounts"), "discounts")
    return found


def _invoice_create(params: Mapping[str, Any], now: int | None, current: Mapping[str, Any]) -> list[Refusal]:
    if not params.get("customer"):
        return [Refusal("invoice_customer", "customer", "Missing required param: customer")]
    found = list(_discounts(params.get("discounts"), "discounts"))
    found += _enum(params.get("pending_invoice_items_behavior"), PENDING_ITEMS, "pending_items", "pending_invoice_items_behavior")
    subscription = params.get("subscription")
    if subscription is not None and not isinstance(subscription, str) and not is_ref(subscription):
        found.append(Refusal("invoice_subscription", "subscription", f"Invalid subscription id {subscription!r}"))
    if params.get("collection_method") == "send_invoice" and not _is_int(params.get("days_until_due")):
        found.append(Refusal("days_until_due", "days_until_due", "send_invoice needs a whole number of days_until_due"))
    return found


def _invoice_finalize(params: Mapping[str, Any], now: int | None, current: Mapping[str, Any]) -> list[Refusal]:
    status = current.get("status")
    if status not in (None, "draft"):
        return [Refusal("invoice_finalized", "status", f"This invoice is already {status}; only a draft is finalized.")]
    return []


def _archive(params: Mapping[str, Any], now: int | None, current: Mapping[str, Any]) -> list[Refusal]:
    if dict(params) != {"active": False}:
        return [Refusal("archive_shape", "active", "an archive sets active=false and nothing else")]
    return []


_CHECKS = {
    ("price", "create"): _price_create,
    ("price", "update"): _price_update,
    ("price", "archive"): _archive,
    ("coupon", "create"): _coupon_create,
    ("coupon", "update"): _coupon_update,
    ("subscription_schedule", "create"): _schedule_create,
    ("subscription_schedule", "update"): _schedule_update,
    ("subscription_schedule", "cancel"): _schedule_cancel,
    ("subscription", "create"): _subscription_create,
    ("subscription", "update"): _subscription_update,
    ("subscription", "cancel"): _subscription_cancel,
    ("invoice_item", "create"): _invoice_item_create,
    ("invoice", "create"): _invoice_create,
    ("invoice", "finalize"): _invoice_finalize,
}
"""(Stripe object, operation) -> its rules; customers and products are checked by validation (their strings)."""
