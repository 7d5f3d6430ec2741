"""Scenario orgs: accounts and customers (spec §1.4, F6, F13, F46)."""

from __future__ import annotations

from sf_stripe_pipeline_tests.scenarios.authoring.cases import case, ACTIVATED_TODAY
from sf_stripe_pipeline_tests.scenarios.authoring.cpq import CpqOrg, Line


LONG_DESCRIPTION = ("Strategic enterprise account with a multi-year platform commitment. " * 8).strip()
PHONE_AT_LIMIT = "+1 (415) 555-0142 x7"
"""20 characters: Stripe's limit for a customer phone (and the connector's truncation of shipping.phone)."""
LONG_PHONE = "+1 (415) 555-0142 ext. 4471"


@case
def customer_fields_and_truncation(org: CpqOrg) -> None:
    seat = org.product("Platform Seat", 50)
    shipped = org.account(
        "Acme Corp", Description=LONG_DESCRIPTION, Phone=PHONE_AT_LIMIT, ShippingStreet="9 Harbor Street",
        ShippingCity="Oakland", ShippingState="CA", ShippingPostalCode="94607", ShippingCountry="US",
    )
    org.order(shipped, [Line(seat, 1)], start="2025-04-01", activated=ACTIVATED_TODAY)
    org.order(org.account("Globex Corp"), [Line(seat, 1)], start="2025-04-01", activated=ACTIVATED_TODAY)
    # Stripe refuses a customer phone over 20 characters and the connector does not truncate it: a data error.
    org.order(org.account("Initech Corp", Phone=LONG_PHONE), [Line(seat, 1)], start="2025-04-01",
              activated=ACTIVATED_TODAY)


@case
def customer_updated_from_account(org: CpqOrg) -> None:
    seat = org.product("Platform Seat", 50)
    acme = org.account()
    org.order(acme, [Line(seat, 1)], start="2025-04-01", activated="2025-03-03T09:00:00Z")
    org.step("step2")
    org.update(acme, Name="Acme Holdings Inc.", Phone="+1 415 555 0199", BillingCity="Oakland",
               BillingPostalCode="94607")


@case
def customer_existing_id_adopted(org: CpqOrg) -> None:
    seat = org.product("Platform Seat", 50)
    org.order(org.account(), [Line(seat, 1)], start="2025-04-01", activated=ACTIVATED_TODAY)


@case
def customer_id_missing_in_stripe(org: CpqOrg) -> None:
    seat = org.product("Platform Seat", 50)
    org.order(org.account(Stripe_ID__c="cus_NotInThisStripeAccount1"), [Line(seat, 1)], start="2025-04-01",
              activated=ACTIVATED_TODAY)


@case
def customer_deleted_in_stripe(org: CpqOrg) -> None:
    seat = org.product("Platform Seat", 50)
    org.order(org.account(), [Line(seat, 1)], start="2025-04-01", activated=ACTIVATED_TODAY)


@case
def account_deleted_in_salesforce(org: CpqOrg) -> None:
    seat = org.product("Platform Seat", 50)
    acme = org.account()
    org.order(acme, [Line(seat, 1)], start="2025-03-01", activated="2025-03-01T09:00:00Z")
    org.step("step2")
    org.update(acme, IsDeleted=True)


@case
def accounts_merged_in_salesforce(org: CpqOrg) -> None:
    """Globex is merged into Acme after both synced: Globex is deleted with MasterRecordId = Acme and its order
    reparented, as a Salesforce merge does."""
    seat = org.product("Platform Seat", 50)
    acme, globex = org.account(), org.account("Globex Corp")
    org.order(acme, [Line(seat, 1)], start="2025-03-01", activated="2025-03-01T09:00:00Z")
    merged = org.order(globex, [Line(seat, 2)], start="2025-03-01", activated="2025-03-01T09:30:00Z")
    org.step("step2")
    org.update(globex, IsDeleted=True, MasterRecordId=acme["Id"])
    org.update(merged.order, AccountId=acme["Id"])
