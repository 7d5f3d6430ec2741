"""Small hand-built CPQ orgs in REST record shape (strings for dates), for the sync core's pure tests.

Each builder call adds one consistent CPQ chain with the defaults of a plain new renewable order, so a test
states only the fields its example is about.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sf_stripe_pipeline.sandbox.salesforce.ids import make_id
from sf_stripe_pipeline.core.config import SyncConfig
from sf_stripe_pipeline.core.contracts import build_contracts
from sf_stripe_pipeline.core.org import OrgSnapshot
from sf_stripe_pipeline.core.rules import ContractAssessment, assess_contracts

INSTANCE_URL = "https://acme.my.salesforce.com"
TODAY = date(2025, 3, 10)  # the spec's "today"


def config(**overrides: Any) -> SyncConfig:
    return SyncConfig(start_date=date(2025, 1, 1), **overrides)


class OrgBuilder:
    def __init__(self, *, salesforce_ids: bool = False) -> None:
        """`salesforce_ids`: real 18-character ids (with the case-safe suffix), as the Salesforce sandbox requires."""
        self.org: dict[str, list[dict]] = {}
        self._counters: dict[str, int] = {}
        self._salesforce_ids = salesforce_ids

    def _add(self, sobject: str, prefix: str, fields: dict[str, Any]) -> dict:
        self._counters[prefix] = self._counters.get(prefix, 0) + 1
        serial = self._counters[prefix]
        record_id = make_id(prefix, serial) if self._salesforce_ids else f"{prefix}{serial:015d}"
        record = {"Id": record_id, **fields}
        self.org.setdefault(sobject, []).append(record)
        return record

    def account(self, **fields: Any) -> dict:
        return self._add("Account", "001", {"Name": "Acme", **fields})

    def product(self, **fields: Any) -> dict:
        defaults = {
            "Name": "Seats",
            "SBQQ__SubscriptionPricing__c": "Fixed Price",
            "SBQQ__SubscriptionType__c": "Renewable",
            "SBQQ__BillingFrequency__c": "Monthly",
            "SBQQ__BillingType__c": "Advance",
        }
        return self._add("Product2", "01t", {**defaults, **fields})

    def entry(self, product: dict, unit_price: float, **fields: Any) -> dict:
        return self._add(
            "PricebookEntry", "01u", {"Product2Id": product["Id"], "UnitPrice": unit_price, "IsActive": True, **fields}
        )

    def order(self, account: dict, *, quote: dict | None = None, amends: dict | None = None, **fields: Any) -> dict:
        """An activated order on its own quote (start 2025-04-01, 12 months); `amends` = the initial order."""
        quote_fields = {"SBQQ__StartDate__c": "2025-04-01", "SBQQ__SubscriptionTerm__c": 12, "SBQQ__Type__c": "Quote"}
        quote_record = self._add("SBQQ__Quote__c", "a0q", {**quote_fields, **(quote or {})})
        opportunity_fields: dict[str, Any] = {"Name": "Deal", "AccountId": account["Id"]}
        if amends is not None:
            opportunity_fields["SBQQ__AmendedContract__c"] = self.contract_of(amends)["Id"]
        opportunity = self._add("Opportunity", "006", opportunity_fields)
        order_fields = {
            "AccountId": account["Id"],
            "OpportunityId": opportunity["Id"],
            "SBQQ__Quote__c": quote_record["Id"],
            "Status": "Activated",
            "ActivatedDate": "2025-03-01T10:00:00.000+0000",
            "LastModifiedDate": "2025-03-01T10:00:00.000+0000",
            "SBQQ__Contracted__c": True,
        }
        return self._add("Order", "801", {**order_fields, **fields})

    def contract_of(self, order: dict) -> dict:
        for contract in self.org.get("Contract", []):
            if contract["SBQQ__Quote__c"] == order["SBQQ__Quote__c"]:
                return contract
        return self._add(
            "Contract", "800", {"AccountId": order["AccountId"], "SBQQ__Quote__c": order["SBQQ__Quote__c"]}
        )

    def line(
        self, order: dict, entry: dict, *, quantity: float = 1, unit_price: float | None = None, **fields: Any
    ) -> dict:
        """An activated order line; UnitPrice defaults to the entry's price for the whole 12-month term."""
        product = next(p for p in self.org["Product2"] if p["Id"] == entry["Product2Id"])
        copied = {
            name: product.get(name)
            for name in (
                "SBQQ__SubscriptionPricing__c",
                "SBQQ__SubscriptionType__c",
                "SBQQ__BillingFrequency__c",
                "SBQQ__BillingType__c",
            )
        }
        defaults = {
            "OrderId": order["Id"],
            "Product2Id": product["Id"],
            "PricebookEntryId": entry["Id"],
            "Quantity": quantity,
            "UnitPrice": entry["UnitPrice"] * 12 if unit_price is None else unit_price,
            "SBQQ__Activated__c": True,
            "SBQQ__SubscriptionTerm__c": 12,
            "SBQQ__DefaultSubscriptionTerm__c": 12,
            **copied,
        }
        return self._add("OrderItem", "802", {**defaults, **fields})

    def snapshot(self) -> OrgSnapshot:
        return OrgSnapshot.from_rest(self.org)


def assess_one(builder: OrgBuilder, **config_overrides: Any) -> ContractAssessment:
    """The assessment of the builder's only contract on the spec's today, with the test config and its overrides."""
    org = builder.snapshot()
    (assessment,) = assess_contracts(
        build_contracts(org), org, config(**config_overrides), today=TODAY, instance_url=INSTANCE_URL
    ).values()
    return assessment
