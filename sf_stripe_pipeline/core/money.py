"""Salesforce major-unit amounts -> Stripe minor-unit decimal strings, and Salesforce dates -> Stripe timestamps.

Stripe's `unit_amount_decimal` takes at most 12 decimal places of minor units. Amounts go through Decimal
(from the float's shortest repr) so 96 / 12 is exactly 8, and are written without trailing zeros, so the
same Salesforce value always yields the same string (which plan comparisons and payload hashes rely on).
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal

ZERO_DECIMAL_CURRENCIES = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "vnd", "vuv", "xaf", "xof", "xpf"}
)
_TWELVE_PLACES = Decimal("1e-12")


def to_decimal(value: float | int | str | Decimal) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(repr(value) if isinstance(value, float) else str(value))


def format_decimal(value: Decimal) -> str:
    """12 dp at most, no exponent, no trailing zeros: Decimal('800.000') -> '800'."""
    rounded = value.quantize(_TWELVE_PLACES, rounding=ROUND_HALF_UP)
    text = format(rounded, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def minor_units(amount: float | int | str | Decimal, currency: str) -> Decimal:
    factor = 1 if currency.lower() in ZERO_DECIMAL_CURRENCIES else 100
    return to_decimal(amount) * factor


def normalize_decimal_string(value: str | float | int | Decimal | None) -> str | None:
    """Stripe returns `unit_amount_decimal` as "1000.000000000000"; compare it as "1000"."""
    return None if value is None or value == "" else format_decimal(to_decimal(value))


def add_months(start: date, months: int) -> date:
    """Calendar month arithmetic, clamping to the month's last day (Jan 31 + 1 month = Feb 28/29)."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def midnight_timestamp(day: date) -> int:
    """A Salesforce date as Stripe wants it: midnight UTC, Unix seconds."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
