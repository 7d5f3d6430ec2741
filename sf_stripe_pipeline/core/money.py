"""Exact money: Salesforce major-unit amounts -> Stripe minor units, and Salesforce dates -> Stripe timestamps.

Every amount is a `Decimal` from the extracted record to the Stripe parameter (Salesforce numbers are parsed as
Decimal, never float), and every division is done in a context wide enough to hold any quotient of Salesforce
numbers (at most 18 digits) before it is rounded once, at the end, to Stripe's limit.

Rounding: `unit_amount_decimal` takes at most 12 decimal places of the minor unit. An amount that has 12 places
or fewer is sent exactly (96 / 12 months = 8, 60000 x 2 / 6 = 20000); only a quotient that does not terminate
(100 / 7) is rounded, half-up at the 12th place, as CPQ and the connector (Ruby BigDecimal) round. We do not round
to whole minor units: Stripe rounds each invoice line (unit x quantity) to the minor unit itself, and a per-period
price rounded to the cent would drift from CPQ's total by up to half a cent per period and stop matching a price
book entry with fractional cents (F17). The 12th-place error is at most 5e-13 of a minor unit, so what a schedule
bills over a term equals CPQ's total to the minor unit for any quantity and term a contract can have.

Amounts are written without exponent or trailing zeros, so the same value always yields the same string (which
plan comparisons and payload hashes rely on).
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation

ZERO_DECIMAL_CURRENCIES = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"}
)
"""Stripe's zero-decimal currencies (docs.stripe.com/currencies#zero-decimal): amounts are in major units."""
THREE_DECIMAL_CURRENCIES = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})
"""Stripe's three-decimal currencies (docs.stripe.com/currencies#three-decimal): 1,000 minor units to the unit."""
UNIT_AMOUNT_PLACES = 12
"""Stripe's limit on the decimal places of `unit_amount_decimal` and `flat_amount_decimal`."""
_PLACES = Decimal(1).scaleb(-UNIT_AMOUNT_PLACES)
_EXACT = Context(prec=80, rounding=ROUND_HALF_UP)
"""Wide enough that no product or quotient of Salesforce numbers is rounded before the final 12-place rounding."""


def to_decimal(value: int | str | Decimal | float) -> Decimal:
    """A number as a Decimal. Salesforce numbers already are; a float can only come from the YAML config file (a
    static field default), whose shortest text is what the user typed."""
    if isinstance(value, bool):
        raise TypeError("a boolean is not an amount")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    return Decimal(str(value).strip())


def minor_unit_factor(currency: str) -> int:
    """Minor units in one major unit of `currency` (1 for JPY, 1,000 for KWD, 100 for USD)."""
    code = currency.lower()
    if code in ZERO_DECIMAL_CURRENCIES:
        return 1
    return 1000 if code in THREE_DECIMAL_CURRENCIES else 100


def minor_units(amount: int | str | Decimal, currency: str) -> Decimal:
    """A major-unit amount in minor units, exactly (10.005 USD -> 1000.5)."""
    return _EXACT.multiply(to_decimal(amount), Decimal(minor_unit_factor(currency)))


def whole_minor_units(amount: int | str | Decimal, currency: str) -> int | None:
    """The amount in whole minor units, or None when it has a fraction of one (10.005 USD): Stripe integer amounts
    (a coupon's `amount_off`) cannot hold it, and truncating would bill a different amount."""
    return whole_number(minor_units(amount, currency))


def fraction_of(amount: Decimal, numerator: int | Decimal, denominator: int | Decimal) -> Decimal:
    """`amount x numerator / denominator` with one rounding at most, and none when the result terminates within
    the context: a whole-term price per billing period (x period / term), a proration (x months / period)."""
    return _EXACT.divide(_EXACT.multiply(amount, to_decimal(numerator)), to_decimal(denominator))


def format_decimal(value: Decimal) -> str:
    """At most 12 decimal places (half-up), no exponent, no trailing zeros: Decimal('800.000') -> '800'."""
    rounded = _EXACT.quantize(value, _PLACES)
    text = format(rounded, "f")
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return "0" if text in ("-0", "") else text


def decimal_places(text: str) -> int:
    """Places after the point of a decimal string ("1.250" -> 3)."""
    _, _, fraction = text.partition(".")
    return len(fraction)


def is_decimal_string(text: object) -> bool:
    """Whether `text` is a plain decimal number as Stripe's `*_decimal` parameters take it (no exponent)."""
    if not isinstance(text, str) or not text or "e" in text.lower():
        return False
    try:
        return Decimal(text).is_finite()
    except InvalidOperation:
        return False


def normalize_decimal_string(value: str | int | Decimal | float | None) -> str | None:
    """Stripe returns `unit_amount_decimal` as "1000.000000000000"; compare it as "1000"."""
    return None if value is None or value == "" else format_decimal(to_decimal(value))


def whole_number(value: object) -> int | None:
    """`value` as an int when it is a whole number (2, Decimal('2.0'), 2.0), else None (2.5, text, booleans)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal):
        return int(value) if value.is_finite() and value == value.to_integral_value() else None
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    return None


def plain_decimal(value: Decimal) -> Decimal:
    """The same number without trailing zeros: 2.500 -> 2.5, and 1000.000 -> 1000 (not 1E+3, as normalize() gives)."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


def add_months(start: date, months: int) -> date:
    """Calendar month arithmetic, clamping to the month's last day (Jan 31 + 1 month = Feb 28/29)."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def midnight_timestamp(day: date) -> int:
    """A Salesforce date as Stripe wants it: midnight UTC, Unix seconds."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
