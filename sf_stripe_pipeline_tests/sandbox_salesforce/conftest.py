"""A small org every test starts from, and a sandbox in tmp_path with the clock pinned."""

from __future__ import annotations

import pytest
import simple_salesforce

from sf_stripe_pipeline.clock import NOW_ENV_VAR
from sf_stripe_pipeline.sandbox.salesforce import SalesforceSandbox
from sf_stripe_pipeline.sandbox.salesforce.ids import make_id
from sf_stripe_pipeline.salesforce.catalogue import SOBJECTS

PINNED_NOW = "2025-06-01T12:00:00.000+0000"


def sf_id(sobject: str, serial: int) -> str:
    return make_id(SOBJECTS[sobject].key_prefix, serial)


ACME, BETA, GAMMA, OBRIEN = (sf_id("Account", n) for n in range(1, 5))
ORDER_1, ORDER_2, ORDER_3, ORDER_4 = (sf_id("Order", n) for n in range(1, 5))


def small_org() -> dict[str, list[dict]]:
    return {
        "Account": [
            {"Id": ACME, "Name": "Acme", "BillingCity": "Paris", "Email__c": "billing@acme.test"},
            {"Id": BETA, "Name": "Beta 100%", "BillingCity": None},
            {"Id": GAMMA, "Name": "gamma_corp", "BillingCity": "Berlin"},
            {"Id": OBRIEN, "Name": "O'Brien & gammaXcorp", "BillingCity": "Dublin"},
        ],
        "Order": [
            {
                "Id": ORDER_1,
                "AccountId": ACME,
                "OrderNumber": "00000001",
                "Status": "Activated",
                "EffectiveDate": "2025-01-01",
                "ActivatedDate": "2025-01-01T09:00:00.000+0000",
                "SBQQ__Contracted__c": True,
            },
            {
                "Id": ORDER_2,
                "AccountId": BETA,
                "OrderNumber": "00000002",
                "Status": "Draft",
                "EffectiveDate": "2025-03-15",
            },
            {
                "Id": ORDER_3,
                "AccountId": GAMMA,
                "OrderNumber": "00000003",
                "Status": "Activated",
                "EffectiveDate": "2024-12-31",
                "ActivatedDate": "2024-12-31T23:30:00.000+0000",
                "SBQQ__Contracted__c": True,
            },
            {"Id": ORDER_4, "OrderNumber": "00000004", "Status": "Draft"},
        ],
        "OrderItem": [
            {"Id": sf_id("OrderItem", 1), "OrderId": ORDER_1, "Quantity": 1.0, "UnitPrice": 99.5},
            {"Id": sf_id("OrderItem", 2), "OrderId": ORDER_1, "Quantity": 3.0, "UnitPrice": 10.0},
            {"Id": sf_id("OrderItem", 3), "OrderId": ORDER_3, "Quantity": 2.5, "UnitPrice": 0.1},
        ],
    }


@pytest.fixture(autouse=True)
def pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(NOW_ENV_VAR, PINNED_NOW)


@pytest.fixture
def sandbox(tmp_path) -> SalesforceSandbox:
    sandbox = SalesforceSandbox(tmp_path / "salesforce")
    sandbox.replace_org(small_org())
    yield sandbox
    sandbox.close()


@pytest.fixture
def sf(sandbox: SalesforceSandbox) -> simple_salesforce.Salesforce:
    return sandbox.client()


def error_code(raised: pytest.ExceptionInfo) -> str:
    """The Salesforce errorCode of a simple-salesforce exception."""
    return raised.value.content[0]["errorCode"]
