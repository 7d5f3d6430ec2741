"""A broken business rule, named and addressed to the Salesforce record a user must fix.

Validation and translation both produce these; a contract with any violation is quarantined whole (never
half-synced) and each violation becomes a Sync Record error on the record it names (spec §1.10).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Violation:
    rule: str
    sf_object: str
    sf_id: str
    message: str

    @classmethod
    def on(cls, rule: str, sf_object: str, sf_id: str, detail: str) -> Violation:
        """A violation whose message starts with the record it names, e.g. "OrderItem 802...: Quantity ..."."""
        return cls(rule, sf_object, sf_id, f"{sf_object} {sf_id}: {detail}")
