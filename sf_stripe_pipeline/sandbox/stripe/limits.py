"""Stripe's documented limits the sandbox enforces. They live in the sync's core (`core/stripe_limits.py`, with their
sources), so the pipeline's validation and the sandbox refuse exactly the same values."""

from sf_stripe_pipeline.core.stripe_limits import (
    CONTROL_CHARACTERS,
    MAX_AMOUNT_MINOR_UNITS,
    STATEMENT_DESCRIPTOR_FORBIDDEN,
    STRING_MAX_LENGTHS,
    SUPPORTED_CURRENCIES,
)

__all__ = [
    "CONTROL_CHARACTERS",
    "MAX_AMOUNT_MINOR_UNITS",
    "STATEMENT_DESCRIPTOR_FORBIDDEN",
    "STRING_MAX_LENGTHS",
    "SUPPORTED_CURRENCIES",
]
