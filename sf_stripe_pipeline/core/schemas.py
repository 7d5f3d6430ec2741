"""pandera schemas of the Salesforce records the sync reads: types, required fields, picklist values.

They run on the extracted tables (the shell's DuckDB frames, or frames built from an OrgSnapshot) before any
business rule, so a malformed record is reported as what it is (rule `schema`, naming the record and column)
instead of surfacing as a confusing translation error. Picklist values come from the object catalogue, the
same one the Salesforce sandbox serves, so the two cannot drift.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from sf_stripe_pipeline.core.org import UNSTORABLE_NUMBERS
from sf_stripe_pipeline.core.stripe_limits import SUPPORTED_CURRENCIES
from sf_stripe_pipeline.core.catalogue_schemas import catalogue_schema
from sf_stripe_pipeline.salesforce.catalogue import SOBJECTS

Text = Series[str]
Number = Series[float]
"""Numbers are exact Decimals in the snapshot; a frame checks them as float64, which any Decimal (or int) column
coerces to, because its checks are ranges (ge=0) and "is a number". Text that is no number fails `coerce_dtype`."""
Flag = Series[pd.BooleanDtype]
Day = Series[pa.DateTime]
Instant = Series[pd.DatetimeTZDtype]


def _optional(**checks: Any) -> Any:
    return pa.Field(nullable=True, **checks)


def _required(**checks: Any) -> Any:
    return pa.Field(nullable=False, **checks)


def _picklist(sobject: str, field: str, *, nullable: bool = True) -> Any:
    return pa.Field(nullable=nullable, isin=list(SOBJECTS[sobject].fields[field].picklist))


def _instant() -> Any:
    return pa.Field(nullable=True, dtype_kwargs={"unit": "ns", "tz": "UTC"})


CUSTOM_CHECKS = {
    "currency_supported": "a currency Stripe does not support (see https://docs.stripe.com/currencies); nothing "
    "in it can be billed through Stripe",
}
"""The schemas' own checks, each a named validation rule, and what its failure means."""


class _Record(pa.DataFrameModel):
    Id: Text = pa.Field(unique=True, nullable=False)
    IsDeleted: Flag = _optional()
    CurrencyIsoCode: Text = _optional(str_length={"min_value": 3, "max_value": 3})
    LastModifiedDate: Instant = _instant()
    unstorable_numbers: Text = pa.Field(alias=UNSTORABLE_NUMBERS, nullable=True)
    """Numbers the warehouse could not hold exactly (more digits than a Salesforce number has, or no number)."""

    @pa.check(UNSTORABLE_NUMBERS)
    @classmethod
    def number_stored_exactly(cls, flags: pd.Series) -> pd.Series:
        return flags.isna()

    class Config:
        strict = False  # extraction adds flags such as `_passes_filter`
        coerce = True  # DuckDB and REST give the same values different dtypes

    @pa.check("CurrencyIsoCode", name="currency_supported")
    def currency_supported(cls, codes: Series[str]) -> Series[bool]:
        return codes.isna() | codes.str.lower().isin(SUPPORTED_CURRENCIES)


class AccountSchema(_Record):
    Name: Text = _required()
    Phone: Text = _optional()
    Description: Text = _optional()
    BillingStreet: Text = _optional()
    BillingCity: Text = _optional()
    BillingState: Text = _optional()
    BillingPostalCode: Text = _optional()
    BillingCountry: Text = _optional()
    ShippingStreet: Text = _optional()
    ShippingCity: Text = _optional()
    ShippingState: Text = _optional()
    ShippingPostalCode: Text = _optional()
    ShippingCountry: Text = _optional()
    Stripe_ID__c: Text = _optional(str_startswith="cus_")


class Product2Schema(_Record):
    Name: Text = _required()
    Description: Text = _optional()
    IsActive: Flag = _optional()
    SBQQ__SubscriptionPricing__c: Text = _picklist("Product2", "SBQQ__SubscriptionPricing__c")
    SBQQ__SubscriptionType__c: Text = _picklist("Product2", "SBQQ__SubscriptionType__c")
    SBQQ__SubscriptionTerm__c: Number = _optional(ge=0)
    SBQQ__BillingFrequency__c: Text = _picklist("Product2", "SBQQ__BillingFrequency__c")
    SBQQ__BillingType__c: Text = _picklist("Product2", "SBQQ__BillingType__c")
    SBQQ__ChargeType__c: Text = _picklist("Product2", "SBQQ__ChargeType__c")
    Stripe_ID__c: Text = _optional(str_startswith="prod_")


class PricebookEntrySchema(_Record):
    Product2Id: Text = _required()
    Pricebook2Id: Text = _optional()
    UnitPrice: Number = _required()
    IsActive: Flag = _optional()
    Stripe_ID__c: Text = _optional(str_startswith="price_")


class QuoteSchema(_Record):
    SBQQ__Account__c: Text = _optional()
    SBQQ__StartDate__c: Day = _optional()
    SBQQ__EndDate__c: Day = _optional()
    SBQQ__SubscriptionTerm__c: Number = _optional(ge=0)
    SBQQ__Type__c: Text = _picklist("SBQQ__Quote__c", "SBQQ__Type__c")
    SBQQ__BillingFrequency__c: Text = _picklist("SBQQ__Quote__c", "SBQQ__BillingFrequency__c")


class OrderSchema(_Record):
    AccountId: Text = _required()
    OpportunityId: Text = _optional()
    SBQQ__Quote__c: Text = _optional()
    Status: Text = _picklist("Order", "Status", nullable=False)
    Type: Text = _picklist("Order", "Type")
    EffectiveDate: Day = _optional()
    ActivatedDate: Instant = _instant()
    SBQQ__Contracted__c: Flag = _optional()
    SBQQ__PaymentTerm__c: Text = _optional()
    Skip_Past_Initial_Invoices__c: Flag = _optional()
    Stripe_ID__c: Text = _optional(str_matches=r"^(sub_sched_|sub_|in_)")


class OrderItemSchema(_Record):
    OrderId: Text = _required()
    Product2Id: Text = _required()
    PricebookEntryId: Text = _required()
    Quantity: Number = _required()
    UnitPrice: Number = _required()
    ServiceDate: Day = _optional()
    EndDate: Day = _optional()
    SBQQ__Activated__c: Flag = _optional()
    SBQQ__Status__c: Text = _picklist("OrderItem", "SBQQ__Status__c")
    SBQQ__RevisedOrderProduct__c: Text = _optional()
    SBQQ__SubscriptionPricing__c: Text = _picklist("OrderItem", "SBQQ__SubscriptionPricing__c")
    SBQQ__SubscriptionType__c: Text = _picklist("OrderItem", "SBQQ__SubscriptionType__c")
    SBQQ__ProductSubscriptionType__c: Text = _picklist("OrderItem", "SBQQ__ProductSubscriptionType__c")
    SBQQ__SubscriptionTerm__c: Number = _optional(ge=0)
    SBQQ__DefaultSubscriptionTerm__c: Number = _optional(ge=0)
    SBQQ__BillingFrequency__c: Text = _picklist("OrderItem", "SBQQ__BillingFrequency__c")
    SBQQ__BillingType__c: Text = _picklist("OrderItem", "SBQQ__BillingType__c")
    SBQQ__ChargeType__c: Text = _picklist("OrderItem", "SBQQ__ChargeType__c")
    SBQQ__ProrateMultiplier__c: Number = _optional(ge=0)
    SBQQ__SegmentKey__c: Text = _optional()
    SBQQ__PriceDimension__c: Text = _optional()
    SBQQ__DimensionType__c: Text = _picklist("OrderItem", "SBQQ__DimensionType__c")
    Skip_Line_Item__c: Flag = _optional()
    Stripe_ID__c: Text = _optional(str_startswith="price_")


# Consumption schedules (F19). Their picklists (Type, RatingMethod, PricingMethod) and bounds are named rules of
# their own (drafting/tiers.py), so the schemas only check what makes a record readable: its links and numbers.


class ConsumptionScheduleSchema(_Record):
    IsActive: Flag = _optional()


class ProductConsumptionScheduleSchema(_Record):
    ProductId: Text = _required()
    ConsumptionScheduleId: Text = _required()


class ConsumptionRateSchema(_Record):
    ConsumptionScheduleId: Text = _required()
    LowerBound: Number = _optional(ge=0)
    UpperBound: Number = _optional()
    Price: Number = _optional()


class OrderItemConsumptionScheduleSchema(_Record):
    SBQQ__OrderItem__c: Text = _required()


class OrderItemConsumptionRateSchema(_Record):
    SBQQ__OrderItemConsumptionSchedule__c: Text = _required()
    SBQQ__LowerBound__c: Number = _optional(ge=0)
    SBQQ__UpperBound__c: Number = _optional()
    SBQQ__Price__c: Number = _optional()


class QuoteCouponSchema(_Record):
    Name__c: Text = _optional()
    Duration__c: Text = _picklist("Quote_Stripe_Coupon__c", "Duration__c")


class OrderCouponSchema(_Record):
    Order__c: Text = _optional()
    Order_Item__c: Text = _optional()
    Quote_Stripe_Coupon_Id__c: Text = _optional()
    Name__c: Text = _optional()
    Duration__c: Text = _picklist("Order_Stripe_Coupon__c", "Duration__c")


SCHEMAS: dict[str, type[pa.DataFrameModel]] = {
    "Account": AccountSchema,
    "Product2": Product2Schema,
    "PricebookEntry": PricebookEntrySchema,
    "SBQQ__Quote__c": QuoteSchema,
    "Order": OrderSchema,
    "OrderItem": OrderItemSchema,
    "ConsumptionSchedule": ConsumptionScheduleSchema,
    "ProductConsumptionSchedule": ProductConsumptionScheduleSchema,
    "ConsumptionRate": ConsumptionRateSchema,
    "SBQQ__OrderItemConsumptionSchedule__c": OrderItemConsumptionScheduleSchema,
    "SBQQ__OrderItemConsumptionRate__c": OrderItemConsumptionRateSchema,
    "Quote_Stripe_Coupon__c": QuoteCouponSchema,
    "Order_Stripe_Coupon__c": OrderCouponSchema,
}
"""Every object the sync reads, by API name."""

FAILURE_COLUMNS = ["Id", "column", "check", "failure_case"]


def _schema(sobject: str) -> pa.DataFrameSchema:
    return SCHEMAS[sobject].to_schema() if sobject in SCHEMAS else catalogue_schema(sobject)


def schema_digest(sobject: str) -> str:
    """Identifies the checks `sobject`'s records pass: failures stored under another digest are out of date."""
    return hashlib.sha256(repr(_schema(sobject)).encode()).hexdigest()


def records_frame(sobject: str, records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Records as a frame holding every column its schema checks (absent fields are null, as in Salesforce)."""
    return pd.DataFrame.from_records(list(records), columns=list(_schema(sobject).columns))


def schema_failures(sobject: str, frame: pd.DataFrame) -> pd.DataFrame:
    """One row per failing value: columns Id, column, check, failure_case (from pandera's lazy SchemaErrors).
    Objects without a schema here are checked against the one derived from the catalogue."""
    frame = frame.reset_index(drop=True)
    try:
        _schema(sobject).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
    else:
        return pd.DataFrame(columns=FAILURE_COLUMNS)
    ids = frame["Id"] if "Id" in frame.columns else pd.Series(dtype=object)
    positions = pd.to_numeric(cases["index"], errors="coerce")
    cases = cases.assign(Id=[ids.get(int(p)) if pd.notna(p) else None for p in positions])
    cases = cases.assign(check=cases["check"].astype(str), failure_case=cases["failure_case"].astype(str))
    # A value that fails dtype coercion is reported twice (coerce_dtype, then dtype): keep the first.
    return cases[FAILURE_COLUMNS].drop_duplicates(subset=["Id", "column", "failure_case"]).reset_index(drop=True)
