"""The Salesforce objects and fields the pipeline reads and writes: the CPQ data model of spec §3, and nothing more.

This catalogue is the one place that says which fields exist and what type each has. The extraction, the
warehouse tables and the pandera schemas are built from it; the sandbox serves exactly these objects and uses it
for `describe`, for `INVALID_FIELD` errors and for typing SOQL literals; the demo org and snapshot loader
validate records against it; the pipeline's pandera schemas read the picklist values from it.

Connector-package fields appear without the `stripeConnector__` namespace, as in the spec.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Salesforce field types (the `type` of a describe result) used here.
ID = "id"
STRING = "string"
TEXTAREA = "textarea"
PHONE = "phone"
URL = "url"
BOOLEAN = "boolean"
DOUBLE = "double"
CURRENCY = "currency"
PERCENT = "percent"
INT = "int"
DATE = "date"
DATETIME = "datetime"
REFERENCE = "reference"
PICKLIST = "picklist"

NUMERIC_TYPES = frozenset({DOUBLE, CURRENCY, PERCENT, INT})
TEXT_TYPES = frozenset({ID, STRING, TEXTAREA, PHONE, URL, REFERENCE, PICKLIST})


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str
    reference_to: str | None = None
    """For lookups: the SObject referenced. Its relationship name is the field name less `Id`/`__c` → `__r`."""
    picklist: tuple[str, ...] = ()
    external_id: bool = False

    @property
    def relationship_name(self) -> str | None:
        if self.type != REFERENCE:
            return None
        if self.name.endswith("__c"):
            return self.name[: -len("__c")] + "__r"
        if self.name.endswith("Id"):
            return self.name[: -len("Id")]
        return None


@dataclass(frozen=True)
class SObjectSpec:
    name: str
    key_prefix: str
    """The three-character ID prefix, e.g. `001` for Account."""
    fields: dict[str, FieldSpec] = field(default_factory=dict)

    def relationship(self, relationship_name: str) -> FieldSpec | None:
        for spec in self.fields.values():
            if spec.relationship_name == relationship_name:
                return spec
        return None


SYSTEM_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("Id", ID),
    FieldSpec("IsDeleted", BOOLEAN),
    FieldSpec("CreatedDate", DATETIME),
    FieldSpec("LastModifiedDate", DATETIME),
    FieldSpec("SystemModstamp", DATETIME),
    FieldSpec("CurrencyIsoCode", PICKLIST),  # every object carries it in a multi-currency org
)

# Fields the connector writes back (spec §3.3).
CONNECTOR_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("Stripe_ID__c", STRING, external_id=True),
    FieldSpec("Stripe_Dashboard_Link__c", URL),
)

BILLING_FREQUENCIES = ("Monthly", "Quarterly", "Semiannual", "Annual", "Invoice Plan")
BILLING_TYPES = ("Advance", "Arrears")
CHARGE_TYPES = ("One-Time", "Recurring", "Usage")
SUBSCRIPTION_PRICING = ("Fixed Price", "Percent Of Total")
SUBSCRIPTION_TYPES = ("Renewable", "Evergreen", "One-time")
PRODUCT_SUBSCRIPTION_TYPES = ("Renewable", "Evergreen", "Renewable/Evergreen", "One-time")
COUPON_DURATIONS = ("once", "repeating", "forever")
# Consumption schedules (tiered prices, spec §1.5 and F19): the connector reads only Tier schedules, and maps
# Range -> volume and Slab -> graduated tiers, PerUnit -> unit amounts and FlatFee -> flat amounts.
RATING_METHODS = ("Tier",)
SCHEDULE_TYPES = ("Range", "Slab")
PRICING_METHODS = ("PerUnit", "FlatFee")
BILLING_TERM_UNITS = ("Month", "Quarter", "Year")
SYNC_STATUSES = ("Error", "Success", "Resolved", "Skipped")


def _ref(name: str, to: str) -> FieldSpec:
    return FieldSpec(name, REFERENCE, reference_to=to)


def _pick(name: str, values: tuple[str, ...]) -> FieldSpec:
    return FieldSpec(name, PICKLIST, picklist=values)


# A quote coupon's terms; the order coupon snapshot copies them at activation (spec §1.9).
COUPON_VALUE_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("Name__c", STRING),
    FieldSpec("Amount_Off__c", CURRENCY),
    FieldSpec("Percent_Off__c", PERCENT),
    _pick("Duration__c", COUPON_DURATIONS),
    FieldSpec("Duration_In_Months__c", DOUBLE),
    FieldSpec("Max_Redemptions__c", DOUBLE),
)

_OBJECTS: list[tuple[str, str, bool, tuple[FieldSpec, ...]]] = [
    # (name, key prefix, has connector fields, own fields)
    (
        "Account",
        "001",
        True,
        (
            FieldSpec("Name", STRING),
            FieldSpec("Phone", PHONE),
            FieldSpec("Description", TEXTAREA),
            FieldSpec("BillingStreet", TEXTAREA),
            FieldSpec("BillingCity", STRING),
            FieldSpec("BillingState", STRING),
            FieldSpec("BillingPostalCode", STRING),
            FieldSpec("BillingCountry", STRING),
            FieldSpec("ShippingStreet", TEXTAREA),
            FieldSpec("ShippingCity", STRING),
            FieldSpec("ShippingState", STRING),
            FieldSpec("ShippingPostalCode", STRING),
            FieldSpec("ShippingCountry", STRING),
            FieldSpec("Email__c", STRING),  # demo org's custom field for the customer email mapping
            _ref("MasterRecordId", "Account"),
        ),
    ),
    (
        "Contact",
        "003",
        False,
        (
            _ref("AccountId", "Account"),
            FieldSpec("FirstName", STRING),
            FieldSpec("LastName", STRING),
            FieldSpec("Email", STRING),
            FieldSpec("Phone", PHONE),
        ),
    ),
    (
        "Product2",
        "01t",
        True,
        (
            FieldSpec("Name", STRING),
            FieldSpec("Description", TEXTAREA),
            FieldSpec("ProductCode", STRING),
            FieldSpec("IsActive", BOOLEAN),
            _pick("SBQQ__SubscriptionPricing__c", SUBSCRIPTION_PRICING),
            _pick("SBQQ__SubscriptionType__c", PRODUCT_SUBSCRIPTION_TYPES),
            FieldSpec("SBQQ__SubscriptionTerm__c", DOUBLE),
            _pick("SBQQ__BillingFrequency__c", BILLING_FREQUENCIES),
            _pick("SBQQ__BillingType__c", BILLING_TYPES),
            _pick("SBQQ__ChargeType__c", CHARGE_TYPES),
        ),
    ),
    (
        "Pricebook2",
        "01s",
        False,
        (
            FieldSpec("Name", STRING),
            FieldSpec("IsStandard", BOOLEAN),
            FieldSpec("IsActive", BOOLEAN),
        ),
    ),
    (
        "PricebookEntry",
        "01u",
        True,
        (
            _ref("Product2Id", "Product2"),
            _ref("Pricebook2Id", "Pricebook2"),
            FieldSpec("UnitPrice", CURRENCY),
            FieldSpec("IsActive", BOOLEAN),
        ),
    ),
    # Product-level tiers: Product2 -> ProductConsumptionSchedule -> ConsumptionSchedule -> ConsumptionRate. The
    # standard objects type their bounds as whole numbers; the prefixes of these three are the sandbox's choice.
    (
        "ConsumptionSchedule",
        "0sc",
        False,
        (
            FieldSpec("Name", STRING),
            FieldSpec("IsActive", BOOLEAN),
            _pick("Type", SCHEDULE_TYPES),
            _pick("RatingMethod", RATING_METHODS),
            FieldSpec("BillingTerm", INT),
            _pick("BillingTermUnit", BILLING_TERM_UNITS),
        ),
    ),
    (
        "ProductConsumptionSchedule",
        "0sp",
        False,
        (
            _ref("ProductId", "Product2"),
            _ref("ConsumptionScheduleId", "ConsumptionSchedule"),
        ),
    ),
    (
        "ConsumptionRate",
        "0sr",
        False,
        (
            _ref("ConsumptionScheduleId", "ConsumptionSchedule"),
            FieldSpec("ProcessingOrder", INT),
            _pick("PricingMethod", PRICING_METHODS),
            FieldSpec("LowerBound", INT),
            FieldSpec("UpperBound", INT),
            FieldSpec("Price", CURRENCY),
        ),
    ),
    (
        "Opportunity",
        "006",
        True,
        (
            FieldSpec("Name", STRING),
            _ref("AccountId", "Account"),
            FieldSpec("CloseDate", DATE),
            FieldSpec("StageName", STRING),
            _ref("SBQQ__AmendedContract__c", "Contract"),
            _ref("SBQQ__RenewedContract__c", "Contract"),
            FieldSpec("SBQQ__Renewal__c", BOOLEAN),
        ),
    ),
    (
        "Contract",
        "800",
        False,
        (
            _ref("AccountId", "Account"),
            FieldSpec("StartDate", DATE),
            FieldSpec("EndDate", DATE),
            FieldSpec("ContractTerm", INT),
            FieldSpec("Status", STRING),
            _ref("SBQQ__Quote__c", "SBQQ__Quote__c"),
            _ref("SBQQ__Order__c", "Order"),
            FieldSpec("SBQQ__AmendmentStartDate__c", DATE),
        ),
    ),
    (
        "SBQQ__Quote__c",
        "a0q",
        False,
        (
            FieldSpec("Name", STRING),
            _ref("SBQQ__Account__c", "Account"),
            _ref("SBQQ__Opportunity2__c", "Opportunity"),
            _ref("SBQQ__PrimaryContact__c", "Contact"),
            _ref("SBQQ__PricebookId__c", "Pricebook2"),
            FieldSpec("SBQQ__StartDate__c", DATE),
            FieldSpec("SBQQ__EndDate__c", DATE),
            FieldSpec("SBQQ__SubscriptionTerm__c", DOUBLE),
            _pick("SBQQ__Type__c", ("Quote", "Renewal", "Amendment")),
            FieldSpec("SBQQ__Primary__c", BOOLEAN),
            FieldSpec("SBQQ__Ordered__c", BOOLEAN),
            FieldSpec("SBQQ__PaymentTerms__c", STRING),
            _pick("SBQQ__BillingFrequency__c", BILLING_FREQUENCIES),
        ),
    ),
    (
        "SBQQ__QuoteLine__c",
        "a0r",
        False,
        (
            _ref("SBQQ__Quote__c", "SBQQ__Quote__c"),
            _ref("SBQQ__Product__c", "Product2"),
            FieldSpec("SBQQ__PricebookEntryId__c", STRING),
            FieldSpec("SBQQ__Quantity__c", DOUBLE),
            FieldSpec("SBQQ__StartDate__c", DATE),
            FieldSpec("SBQQ__EndDate__c", DATE),
            FieldSpec("SBQQ__EffectiveStartDate__c", DATE),
            FieldSpec("SBQQ__EffectiveEndDate__c", DATE),
            FieldSpec("SBQQ__SegmentIndex__c", DOUBLE),
            FieldSpec("SBQQ__SegmentKey__c", STRING),
            FieldSpec("SBQQ__SegmentLabel__c", STRING),
            FieldSpec("SBQQ__ProrateMultiplier__c", DOUBLE),
            FieldSpec("SBQQ__SubscriptionTerm__c", DOUBLE),
            FieldSpec("SBQQ__DefaultSubscriptionTerm__c", DOUBLE),
            _pick("SBQQ__BillingFrequency__c", BILLING_FREQUENCIES),
            _pick("SBQQ__BillingType__c", BILLING_TYPES),
            _pick("SBQQ__ChargeType__c", CHARGE_TYPES),
            _pick("SBQQ__SubscriptionPricing__c", SUBSCRIPTION_PRICING),
            _pick("SBQQ__ProductSubscriptionType__c", PRODUCT_SUBSCRIPTION_TYPES),
            _pick("SBQQ__SubscriptionType__c", SUBSCRIPTION_TYPES),
        ),
    ),
    (
        "Order",
        "801",
        True,
        (
            _ref("AccountId", "Account"),
            _ref("OpportunityId", "Opportunity"),
            _ref("Pricebook2Id", "Pricebook2"),
            _ref("ContractId", "Contract"),
            FieldSpec("OrderNumber", STRING),
            _pick("Status", ("Draft", "Activated")),
            FieldSpec("StatusCode", STRING),
            FieldSpec("EffectiveDate", DATE),
            FieldSpec("EndDate", DATE),
            FieldSpec("ActivatedDate", DATETIME),
            _pick("Type", ("New", "Amendment", "Renewal")),
            _ref("SBQQ__Quote__c", "SBQQ__Quote__c"),
            FieldSpec("SBQQ__Contracted__c", BOOLEAN),
            FieldSpec("SBQQ__PaymentTerm__c", STRING),
            FieldSpec("Skip_Past_Initial_Invoices__c", BOOLEAN),
            FieldSpec("Stripe_Invoice_Payment_Link__c", URL),
        ),
    ),
    (
        "OrderItem",
        "802",
        True,
        (
            _ref("OrderId", "Order"),
            _ref("Product2Id", "Product2"),
            _ref("PricebookEntryId", "PricebookEntry"),
            FieldSpec("Quantity", DOUBLE),
            FieldSpec("UnitPrice", CURRENCY),
            FieldSpec("ServiceDate", DATE),
            FieldSpec("EndDate", DATE),
            _ref("SBQQ__QuoteLine__c", "SBQQ__QuoteLine__c"),
            FieldSpec("SBQQ__Activated__c", BOOLEAN),
            _pick("SBQQ__Status__c", ("Draft", "Activated")),
            _ref("SBQQ__RevisedOrderProduct__c", "OrderItem"),
            FieldSpec("SBQQ__OrderedQuantity__c", DOUBLE),
            FieldSpec("SBQQ__ContractAction__c", STRING),
            _pick("SBQQ__SubscriptionPricing__c", SUBSCRIPTION_PRICING),
            _pick("SBQQ__SubscriptionType__c", SUBSCRIPTION_TYPES),
            _pick("SBQQ__ProductSubscriptionType__c", PRODUCT_SUBSCRIPTION_TYPES),
            FieldSpec("SBQQ__SubscriptionTerm__c", DOUBLE),
            FieldSpec("SBQQ__DefaultSubscriptionTerm__c", DOUBLE),
            _pick("SBQQ__BillingFrequency__c", BILLING_FREQUENCIES),
            _pick("SBQQ__BillingType__c", BILLING_TYPES),
            _pick("SBQQ__ChargeType__c", CHARGE_TYPES),
            FieldSpec("SBQQ__ProrateMultiplier__c", DOUBLE),
            FieldSpec("SBQQ__SegmentIndex__c", DOUBLE),
            FieldSpec("SBQQ__SegmentKey__c", STRING),
            FieldSpec("SBQQ__PriceDimension__c", STRING),
            _pick("SBQQ__DimensionType__c", ("Year", "Quarter", "Month", "Custom", "One-time")),
            FieldSpec("Skip_Line_Item__c", BOOLEAN),
        ),
    ),
    # Line-level tiers, copied by CPQ onto each order product; they win over the product's schedule. CPQ's bounds are
    # plain numbers, so a decimal bound can reach the connector (an error, F19).
    (
        "SBQQ__OrderItemConsumptionSchedule__c",
        "a0w",
        False,
        (
            _ref("SBQQ__OrderItem__c", "OrderItem"),
            _pick("SBQQ__Type__c", SCHEDULE_TYPES),
            _pick("SBQQ__RatingMethod__c", RATING_METHODS),
            FieldSpec("SBQQ__BillingTerm__c", DOUBLE),
            _pick("SBQQ__BillingTermUnit__c", BILLING_TERM_UNITS),
        ),
    ),
    (
        "SBQQ__OrderItemConsumptionRate__c",
        "a0x",
        False,
        (
            _ref("SBQQ__OrderItemConsumptionSchedule__c", "SBQQ__OrderItemConsumptionSchedule__c"),
            FieldSpec("SBQQ__ProcessingOrder__c", DOUBLE),
            _pick("SBQQ__PricingMethod__c", PRICING_METHODS),
            FieldSpec("SBQQ__LowerBound__c", DOUBLE),
            FieldSpec("SBQQ__UpperBound__c", DOUBLE),
            FieldSpec("SBQQ__Price__c", CURRENCY),
        ),
    ),
    (
        "Quote_Stripe_Coupon__c",
        "a1c",
        True,
        COUPON_VALUE_FIELDS,
    ),
    (
        "Quote_Stripe_Coupon_Association__c",
        "a1a",
        False,
        (
            _ref("Quote__c", "SBQQ__Quote__c"),
            _ref("Quote_Stripe_Coupon__c", "Quote_Stripe_Coupon__c"),
        ),
    ),
    (
        "Quote_Line_Stripe_Coupon_Association__c",
        "a1l",
        False,
        (
            _ref("Quote_Line__c", "SBQQ__QuoteLine__c"),
            _ref("Quote_Stripe_Coupon__c", "Quote_Stripe_Coupon__c"),
        ),
    ),
    (
        "Order_Stripe_Coupon__c",
        "a1o",
        True,
        (
            _ref("Order__c", "Order"),
            _ref("Order_Item__c", "OrderItem"),
            FieldSpec("Quote_Stripe_Coupon_Id__c", STRING),
            # External id of the snapshots the sync makes (`<Order/OrderItem Id>-<Quote coupon Id>`), which it
            # upserts by, so a re-run after a crash never makes a second one (core/coupons.py).
            FieldSpec("Snapshot_Key__c", STRING, external_id=True),
            *COUPON_VALUE_FIELDS,
        ),
    ),
    (
        "Sync_Record__c",
        "a1s",
        False,
        (
            FieldSpec("Compound_ID__c", STRING, external_id=True),
            FieldSpec("Primary_Record_ID__c", STRING),
            FieldSpec("Primary_Object_Type__c", STRING),
            FieldSpec("Secondary_Record_ID__c", STRING),
            FieldSpec("Secondary_Object_Type__c", STRING),
            _pick("Resolution_Status__c", SYNC_STATUSES),
            FieldSpec("Resolution_Message__c", TEXTAREA),
            FieldSpec("Resolution_Documentation_Link__c", URL),
            FieldSpec("Stripe_Request_Dashboard_Link__c", URL),
            FieldSpec("Dagster_Run_ID__c", STRING),
        ),
    ),
]


def _build() -> dict[str, SObjectSpec]:
    catalogue: dict[str, SObjectSpec] = {}
    for name, prefix, has_connector_fields, own_fields in _OBJECTS:
        fields = SYSTEM_FIELDS + own_fields + (CONNECTOR_FIELDS if has_connector_fields else ())
        catalogue[name] = SObjectSpec(name, prefix, {spec.name: spec for spec in fields})
    return catalogue


SOBJECTS: dict[str, SObjectSpec] = _build()
"""Every object the sandbox serves, by API name, in dependency order (parents before children)."""

PREFIX_TO_SOBJECT: dict[str, str] = {spec.key_prefix: name for name, spec in SOBJECTS.items()}
