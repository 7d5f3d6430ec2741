"""A small builder of faithful Salesforce CPQ orgs, for authoring the scenario snapshots.

A scenario needs the same chain CPQ leaves behind (Opportunity -> Quote -> Quote Lines -> activated Order ->
Order Items -> Contract; amendments through `Opportunity.SBQQ__AmendedContract__c` with delta lines pointing at the
original line through `SBQQ__RevisedOrderProduct__c`), but each scenario varies one thing. Writing that chain by
hand forty times is where snapshot mistakes come from, so the chain lives here once, mirroring the demo org's
faithfulness rules (sandbox/demo_org.py): `OrderItem.UnitPrice` is CPQ's whole-term price for licensed renewable
lines (per-period price x term / billing months), per-period for metered, evergreen and one-time lines.

Ids are deterministic (`make_id(prefix, n)`, n counting from 1 per object in each scenario), so expected files can
name records: the first Order is always 801000000000001AAA. Records carry only the fields a scenario sets; the
sandbox fills the rest (null, system timestamps at load time).

A scenario with several steps calls `step(name)`: what was added or changed afterwards (`update`, `amend`...) goes
into that step's folder, which the scenario runner upserts into the org the earlier steps left (keeping the
Stripe ids the sync wrote back).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sf_stripe_pipeline.clock import parse_instant
from sf_stripe_pipeline.core.mapping import BILLING_FREQUENCY_MONTHS
from sf_stripe_pipeline.core.money import add_months
from sf_stripe_pipeline.sandbox.demo_org import sf_datetime
from sf_stripe_pipeline.sandbox.salesforce.ids import make_id
from sf_stripe_pipeline.salesforce.catalogue import SOBJECTS

Record = dict[str, Any]
Org = dict[str, list[Record]]

LICENSED, METERED, EVERGREEN, ONE_TIME = "licensed", "metered", "evergreen", "one_time"
Rate = tuple[Any, str, Any]
"""A consumption rate: (upper bound or None for the last tier, pricing method PerUnit/FlatFee, price)."""
FIRST_STEP = "org"
CANCEL_ACTION = {"SBQQ__ContractAction__c": "Cancel"}


def day(text: str | date) -> date:
    return text if isinstance(text, date) else date.fromisoformat(text)


def months_between(start: date, end_exclusive: date) -> int:
    """Whole months from `start` to `end_exclusive` (CPQ's amendment term when both fall on the same day)."""
    months = 0
    while add_months(start, months + 1) <= end_exclusive:
        months += 1
    return months


@dataclass(frozen=True)
class Product:
    record: Record
    entries: dict[str, Record]
    """Currency -> its PricebookEntry."""
    kind: str
    frequency: str | None

    @property
    def frequency_months(self) -> int:
        """Months per billing period; 1 for a blank or unsupported frequency (the sync must reject the latter)."""
        return BILLING_FREQUENCY_MONTHS.get(self.frequency or "Monthly", 1)


@dataclass(frozen=True)
class Line:
    """One order line to place: a quantity (a delta on amendments) of a product."""

    product: Product
    quantity: float
    discount: float = 0.0
    """Quote discount, as a fraction of the list price."""
    unit_price: float | None = None
    """CPQ's OrderItem.UnitPrice when it is not list price x term (e.g. a hand-edited price)."""
    revises: Record | None = None
    """The original OrderItem this amendment line changes."""
    fields: Mapping[str, Any] = field(default_factory=dict)
    """Extra or overriding OrderItem fields (Skip_Line_Item__c, terms, MDQ segment fields...)."""
    quote_line_fields: Mapping[str, Any] = field(default_factory=dict)
    consumption: tuple[str, Sequence[Rate]] | None = None
    """A consumption schedule negotiated on this line (Type, rates) instead of CPQ's copy of the product's."""
    copy_consumption: bool = True
    """Whether CPQ copied the product's consumption schedule onto the order line (it does, at quoting)."""


@dataclass
class PlacedOrder:
    order: Record
    quote: Record | None
    opportunity: Record
    start: date
    term: int
    end: date | None
    """Exclusive end (start + term), None for evergreen orders."""
    items: list[Record] = field(default_factory=list)
    quote_lines: list[Record] = field(default_factory=list)
    contract: Record | None = None


class CpqOrg:
    """Builds one scenario's org, step by step."""

    def __init__(self) -> None:
        self._records: dict[str, dict[str, Record]] = {sobject: {} for sobject in SOBJECTS}
        self._serials = dict.fromkeys(SOBJECTS, 0)
        self._steps: dict[str, set[tuple[str, str]]] = {FIRST_STEP: set()}
        self._current_step = FIRST_STEP
        self._closed_steps: dict[str, Org] = {}
        """Records of finished steps as they were when the step ended (later steps change the live records)."""
        self._pricebook: Record | None = None
        self._product_schedules: dict[str, tuple[str, Sequence[Rate]]] = {}
        """Product2 Id -> its consumption schedule (Type, rates), which CPQ copies onto its order lines."""

    # -- records and steps -------------------------------------------------------------------------------------

    def add(self, sobject: str, **fields: Any) -> Record:
        unknown = set(fields) - set(SOBJECTS[sobject].fields)
        if unknown:
            raise ValueError(f"{sobject} has no field(s) {sorted(unknown)}")
        self._serials[sobject] += 1
        record = {"Id": make_id(SOBJECTS[sobject].key_prefix, self._serials[sobject])}
        record.update({name: value for name, value in fields.items() if value is not None})
        self._records[sobject][record["Id"]] = record
        self._steps[self._current_step].add((sobject, record["Id"]))
        return record

    def update(self, record: Record, **fields: Any) -> Record:
        """Change a record; in a later step the whole record is upserted (None sets the field to null)."""
        sobject = next(name for name, records in self._records.items() if record["Id"] in records)
        record.update(fields)
        self._steps[self._current_step].add((sobject, record["Id"]))
        return record

    def step(self, name: str) -> None:
        """Start the next step: records added or changed from now on form folder `name`."""
        if name in self._steps:
            raise ValueError(f"step {name!r} already exists")
        self._closed_steps[self._current_step] = self._step_org(self._current_step)
        self._steps[name] = set()
        self._current_step = name

    def _step_org(self, name: str) -> Org:
        touched = self._steps[name]
        org = {
            sobject: [dict(record) for record_id, record in records.items() if (sobject, record_id) in touched]
            for sobject, records in self._records.items()
        }
        return {sobject: records for sobject, records in org.items() if records}

    def step_orgs(self) -> dict[str, Org]:
        """Folder name -> the records to load: the first step is a full snapshot, later ones the records to upsert."""
        return self._closed_steps | {self._current_step: self._step_org(self._current_step)}

    # -- reference data ----------------------------------------------------------------------------------------

    def account(self, name: str = "Acme Corp", currency: str = "USD", **fields: Any) -> Record:
        defaults = {
            "Phone": "+1 415 555 0100",
            "Description": f"{name}, billing entity.",
            "BillingStreet": "1 Market Street",
            "BillingCity": "San Francisco",
            "BillingState": "CA",
            "BillingPostalCode": "94105",
            "BillingCountry": "US",
            "Email__c": "billing@" + name.split()[0].lower() + ".example",
        }
        return self.add("Account", Name=name, CurrencyIsoCode=currency, **(defaults | fields))

    def pricebook(self) -> Record:
        if self._pricebook is None:
            self._pricebook = self.add("Pricebook2", Name="Standard Price Book", IsStandard=True, IsActive=True)
        return self._pricebook

    def product(
        self,
        name: str,
        price: float | Mapping[str, float],
        *,
        kind: str = LICENSED,
        frequency: str | None = "Monthly",
        **fields: Any,
    ) -> Product:
        """A product with one PricebookEntry per currency; `price` is per billing period (or one-off)."""
        prices = {"USD": price} if isinstance(price, int | float) else dict(price)
        recurring = kind != ONE_TIME
        record = self.add(
            "Product2",
            Name=name,
            Description=f"{name} ({kind.replace('_', '-')})",
            ProductCode=name.upper().replace(" ", "-")[:20],
            IsActive=True,
            SBQQ__SubscriptionPricing__c="Fixed Price" if recurring else None,
            SBQQ__SubscriptionType__c={EVERGREEN: "Evergreen", ONE_TIME: "One-time"}.get(kind, "Renewable"),
            SBQQ__SubscriptionTerm__c=(1 if kind == EVERGREEN else 12) if recurring else None,
            SBQQ__BillingFrequency__c=frequency if recurring else None,
            SBQQ__BillingType__c=("Arrears" if kind == METERED else "Advance") if recurring else None,
            SBQQ__ChargeType__c={METERED: "Usage", ONE_TIME: "One-Time"}.get(kind, "Recurring"),
            **fields,
        )
        entries = {
            currency: self.add(
                "PricebookEntry",
                Product2Id=record["Id"],
                Pricebook2Id=self.pricebook()["Id"],
                UnitPrice=amount,
                IsActive=True,
                CurrencyIsoCode=currency,
            )
            for currency, amount in prices.items()
        }
        return Product(record, entries, kind, frequency if recurring else None)

    def consumption_schedule(
        self, product: Product, schedule_type: str, rates: Sequence[Rate], **fields: Any
    ) -> Record:
        """A product's consumption schedule (F19): ConsumptionSchedule, its ProductConsumptionSchedule link and its
        ConsumptionRates, numbered in the order given (ProcessingOrder, which the sync ignores)."""
        schedule = self.add(
            "ConsumptionSchedule",
            Name=f"{product.record['Name']} tiers",
            Type=schedule_type,
            RatingMethod="Tier",
            IsActive=True,
            BillingTerm=1,
            BillingTermUnit="Month",
            **fields,
        )
        self.add("ProductConsumptionSchedule", ProductId=product.record["Id"], ConsumptionScheduleId=schedule["Id"])
        lower = 0
        for number, (bound, method, price) in enumerate(rates, start=1):
            self.add(
                "ConsumptionRate",
                ConsumptionScheduleId=schedule["Id"],
                ProcessingOrder=number,
                LowerBound=lower,
                UpperBound=bound,
                PricingMethod=method,
                Price=price,
            )
            lower = bound if bound is not None else lower
        if schedule["IsActive"]:
            self._product_schedules.setdefault(product.record["Id"], (schedule_type, rates))
        return schedule

    def line_consumption_schedule(
        self, item: Record, schedule_type: str, rates: Sequence[Rate], **fields: Any
    ) -> Record:
        """An order line's own consumption schedule (CPQ's SBQQ__OrderItemConsumptionSchedule__c) and its rates."""
        schedule = self.add(
            "SBQQ__OrderItemConsumptionSchedule__c",
            SBQQ__OrderItem__c=item["Id"],
            SBQQ__Type__c=schedule_type,
            SBQQ__RatingMethod__c="Tier",
            SBQQ__BillingTerm__c=1.0,
            SBQQ__BillingTermUnit__c="Month",
            CurrencyIsoCode=item.get("CurrencyIsoCode"),
            **fields,
        )
        lower = 0.0
        for number, (bound, method, price) in enumerate(rates, start=1):
            self.add(
                "SBQQ__OrderItemConsumptionRate__c",
                SBQQ__OrderItemConsumptionSchedule__c=schedule["Id"],
                SBQQ__ProcessingOrder__c=float(number),
                SBQQ__LowerBound__c=lower,
                SBQQ__UpperBound__c=None if bound is None else float(bound),
                SBQQ__PricingMethod__c=method,
                SBQQ__Price__c=price,
                CurrencyIsoCode=item.get("CurrencyIsoCode"),
            )
            lower = float(bound) if bound is not None else lower
        return schedule

    # -- the CPQ chain -----------------------------------------------------------------------------------------

    def order(
        self,
        account: Record,
        lines: Sequence[Line],
        *,
        start: str | date,
        activated: str,
        term: int = 12,
        payment_terms: str | None = "Net 30",
        quote_type: str = "Quote",
        with_quote: bool = True,
        contracted: bool | None = None,
        renews: PlacedOrder | None = None,
        **order_fields: Any,
    ) -> PlacedOrder:
        """An initial (or renewal) order, activated, with its quote and, when it has recurring lines, its contract."""
        start = day(start)
        evergreen = any(line.product.kind == EVERGREEN for line in lines)
        end = None if evergreen else add_months(start, term)
        placed = self._place(
            account, lines, start=start, term=term, end=end, activated=activated, payment_terms=payment_terms,
            quote_type=quote_type, with_quote=with_quote, amended_contract=None, renews=renews, **order_fields,
        )
        has_recurring = any(line.product.kind != ONE_TIME for line in lines)
        if contracted if contracted is not None else (with_quote and has_recurring):
            self.update(placed.order, SBQQ__Contracted__c=True)
            placed.contract = self.add(
                "Contract",
                AccountId=account["Id"],
                StartDate=start.isoformat(),
                EndDate=(end - timedelta(days=1)).isoformat() if end else None,
                ContractTerm=term,
                Status="Activated",
                SBQQ__Quote__c=placed.quote["Id"] if placed.quote else None,
                SBQQ__Order__c=placed.order["Id"],
                CurrencyIsoCode=account["CurrencyIsoCode"],
            )
        return placed

    def amend(
        self,
        initial: PlacedOrder,
        lines: Sequence[Line],
        *,
        start: str | date,
        activated: str,
        term: int | None = None,
        end: str | date | None = None,
        payment_terms: str | None = "Net 30",
        **order_fields: Any,
    ) -> PlacedOrder:
        """An amendment order on `initial`'s contract: delta lines, co-terminating unless `end`/`term` say otherwise."""
        if initial.contract is None:
            raise ValueError(f"order {initial.order['Id']} has no contract to amend")
        start = day(start)
        amendment_end = day(end) if end is not None else initial.end
        if term is None:
            term = 1 if amendment_end is None else months_between(start, amendment_end)
        account = self._records["Account"][initial.order["AccountId"]]
        placed = self._place(
            account, lines, start=start, term=term, end=amendment_end, activated=activated,
            payment_terms=payment_terms, quote_type="Amendment", with_quote=True, amended_contract=initial.contract,
            renews=None, **order_fields,
        )
        self.update(initial.contract, SBQQ__Order__c=placed.order["Id"], SBQQ__AmendmentStartDate__c=start.isoformat())
        return placed

    @staticmethod
    def cancel(
        initial: PlacedOrder, products: Sequence[Product], items: Sequence[Record] | None = None
    ) -> list[Line]:
        """Delta lines zeroing `items` (default: all of `initial`'s items), matched to `products` by Product2Id."""
        by_id = {product.record["Id"]: product for product in products}
        return [
            Line(by_id[item["Product2Id"]], -item["Quantity"], revises=item, fields=CANCEL_ACTION)
            for item in (items if items is not None else initial.items)
        ]

    def _place(
        self,
        account: Record,
        lines: Sequence[Line],
        *,
        start: date,
        term: int,
        end: date | None,
        activated: str,
        payment_terms: str | None,
        quote_type: str,
        with_quote: bool,
        amended_contract: Record | None,
        renews: PlacedOrder | None,
        **order_fields: Any,
    ) -> PlacedOrder:
        currency = order_fields.pop("CurrencyIsoCode", account["CurrencyIsoCode"])
        activated_at = parse_instant(activated)
        kind = "Amendment" if amended_contract else "Renewal" if renews else "New Business"
        opportunity = self.add(
            "Opportunity",
            Name=f"{account['Name']} - {kind}",
            AccountId=account["Id"],
            CloseDate=(activated_at - timedelta(days=1)).date().isoformat(),
            StageName="Closed Won",
            SBQQ__AmendedContract__c=amended_contract["Id"] if amended_contract else None,
            SBQQ__RenewedContract__c=renews.contract["Id"] if renews and renews.contract else None,
            SBQQ__Renewal__c=bool(renews),
            CurrencyIsoCode=currency,
        )
        quote = None
        if with_quote:
            quote = self.add(
                "SBQQ__Quote__c",
                Name=f"Q-{self._serials['SBQQ__Quote__c'] + 1:05d}",
                SBQQ__Account__c=account["Id"],
                SBQQ__Opportunity2__c=opportunity["Id"],
                SBQQ__PricebookId__c=self.pricebook()["Id"],
                SBQQ__StartDate__c=start.isoformat(),
                SBQQ__EndDate__c=(end - timedelta(days=1)).isoformat() if end else None,
                SBQQ__SubscriptionTerm__c=float(term),
                SBQQ__Type__c="Renewal" if renews else quote_type,
                SBQQ__Primary__c=True,
                SBQQ__Ordered__c=True,
                SBQQ__PaymentTerms__c=payment_terms,
                CurrencyIsoCode=currency,
            )
        order = self.add(
            "Order",
            AccountId=account["Id"],
            OpportunityId=opportunity["Id"],
            Pricebook2Id=self.pricebook()["Id"],
            OrderNumber=f"{self._serials['Order'] + 1:08d}",
            Status="Activated",
            StatusCode="Activated",
            EffectiveDate=start.isoformat(),
            EndDate=(end - timedelta(days=1)).isoformat() if end else None,
            ActivatedDate=sf_datetime(activated_at),
            Type="Amendment" if amended_contract else "Renewal" if renews else "New",
            SBQQ__Quote__c=quote["Id"] if quote else None,
            SBQQ__Contracted__c=False,
            SBQQ__PaymentTerm__c=payment_terms,
            CurrencyIsoCode=currency,
            **order_fields,
        )
        placed = PlacedOrder(order, quote, opportunity, start, term, end)
        for line in lines:
            self._place_line(placed, line, currency)
        return placed

    def _place_line(self, placed: PlacedOrder, line: Line, currency: str) -> None:
        product = line.product
        entry = product.entries[currency]
        cpq = self._cpq_fields(product, placed.term) | dict(line.fields)
        line_end = None if product.kind == ONE_TIME or placed.end is None else placed.end - timedelta(days=1)
        quote_line = None
        if placed.quote is not None:
            prior = line.revises["Quantity"] if line.revises else 0.0
            quote_line_fields = {
                name: value for name, value in cpq.items() if name in SOBJECTS["SBQQ__QuoteLine__c"].fields
            }
            base = {
                "SBQQ__Quote__c": placed.quote["Id"],
                "SBQQ__Product__c": product.record["Id"],
                "SBQQ__PricebookEntryId__c": entry["Id"],
                "SBQQ__Quantity__c": prior + line.quantity,
                "SBQQ__StartDate__c": placed.start.isoformat(),
                "SBQQ__EndDate__c": line_end.isoformat() if line_end else None,
                "SBQQ__EffectiveStartDate__c": placed.start.isoformat(),
                "SBQQ__EffectiveEndDate__c": line_end.isoformat() if line_end else None,
                "CurrencyIsoCode": currency,
            }
            quote_line = self.add("SBQQ__QuoteLine__c", **(base | quote_line_fields | dict(line.quote_line_fields)))
            placed.quote_lines.append(quote_line)
        unit_price = line.unit_price
        if unit_price is None:
            whole_term = product.kind == LICENSED and cpq.get("SBQQ__SubscriptionType__c") == "Renewable"
            multiplier = cpq["SBQQ__ProrateMultiplier__c"] if whole_term else 1.0
            unit_price = round(entry["UnitPrice"] * multiplier * (1.0 - line.discount), 2)
        item_fields = {name: value for name, value in cpq.items() if name in SOBJECTS["OrderItem"].fields}
        base = {
            "OrderId": placed.order["Id"],
            "Product2Id": product.record["Id"],
            "PricebookEntryId": entry["Id"],
            "Quantity": float(line.quantity),
            "UnitPrice": unit_price,
            "ServiceDate": placed.start.isoformat(),
            "EndDate": line_end.isoformat() if line_end else None,
            "SBQQ__QuoteLine__c": quote_line["Id"] if quote_line else None,
            "SBQQ__Activated__c": True,
            "SBQQ__Status__c": "Activated",
            "SBQQ__RevisedOrderProduct__c": line.revises["Id"] if line.revises else None,
            "SBQQ__OrderedQuantity__c": float(line.quantity),
            "SBQQ__ContractAction__c": "New" if line.revises is None else "Quantity Change",
            "CurrencyIsoCode": currency,
        }
        item = self.add("OrderItem", **(base | item_fields))
        placed.items.append(item)
        schedule = line.consumption or (
            self._product_schedules.get(product.record["Id"]) if line.copy_consumption else None
        )
        if schedule is not None:
            self.line_consumption_schedule(item, *schedule)

    @staticmethod
    def _cpq_fields(product: Product, order_term: int) -> Record:
        """The subscription fields CPQ copies from the product onto the quote line and order item."""
        if product.kind == ONE_TIME:
            return {
                "SBQQ__SubscriptionType__c": "One-time",
                "SBQQ__ProductSubscriptionType__c": "One-time",
                "SBQQ__ChargeType__c": "One-Time",
            }
        evergreen = product.kind == EVERGREEN
        term = 1 if evergreen else order_term
        return {
            "SBQQ__SubscriptionPricing__c": "Fixed Price",
            "SBQQ__SubscriptionType__c": "Evergreen" if evergreen else "Renewable",
            "SBQQ__ProductSubscriptionType__c": "Renewable/Evergreen" if evergreen else "Renewable",
            "SBQQ__SubscriptionTerm__c": float(term),
            "SBQQ__DefaultSubscriptionTerm__c": 1.0 if evergreen else 12.0,
            "SBQQ__BillingFrequency__c": product.frequency,
            "SBQQ__BillingType__c": "Arrears" if product.kind == METERED else "Advance",
            "SBQQ__ChargeType__c": "Usage" if product.kind == METERED else "Recurring",
            "SBQQ__ProrateMultiplier__c": term / product.frequency_months,
        }

    # -- MDQ (multi-dimensional quoting) -----------------------------------------------------------------------

    @staticmethod
    def segments(
        product: Product, quantities: Sequence[float], *, start: str | date, months: int = 12,
        dimension: str = "Year", key: str = "SEG-1",
    ) -> list[Line]:
        """One line per ramp segment of `months` months, with CPQ's segment fields; UnitPrice covers the segment."""
        start = day(start)
        lines = []
        for index, quantity in enumerate(quantities, start=1):
            segment_start = add_months(start, months * (index - 1))
            segment_end = add_months(segment_start, months) - timedelta(days=1)
            label = f"{dimension} {index}"
            multiplier = months / product.frequency_months
            lines.append(
                Line(
                    product,
                    quantity,
                    unit_price=round(product.entries["USD"]["UnitPrice"] * multiplier, 2),
                    fields={
                        "SBQQ__SegmentIndex__c": float(index),
                        "SBQQ__SegmentKey__c": key,
                        "SBQQ__PriceDimension__c": f"{key}-{dimension.upper()}",
                        "SBQQ__DimensionType__c": dimension,
                        "SBQQ__ProrateMultiplier__c": multiplier,
                        "ServiceDate": segment_start.isoformat(),
                        "EndDate": segment_end.isoformat(),
                    },
                    quote_line_fields={
                        "SBQQ__SegmentLabel__c": label,
                        "SBQQ__StartDate__c": segment_start.isoformat(),
                        "SBQQ__EndDate__c": segment_end.isoformat(),
                        "SBQQ__EffectiveStartDate__c": segment_start.isoformat(),
                        "SBQQ__EffectiveEndDate__c": segment_end.isoformat(),
                    },
                )
            )
        return lines

    # -- coupons -----------------------------------------------------------------------------------------------

    def coupon(self, name: str, currency: str = "USD", **terms: Any) -> Record:
        """A Quote_Stripe_Coupon__c: Percent_Off__c or Amount_Off__c, Duration__c, Duration_In_Months__c..."""
        return self.add("Quote_Stripe_Coupon__c", Name__c=name, CurrencyIsoCode=currency, **terms)

    def associate(self, coupon: Record, placed: PlacedOrder, quote_line: Record | None = None) -> Record:
        """The rep's association of a coupon with the order's quote, or with one of its quote lines."""
        assert placed.quote is not None, "coupons are associated with CPQ quotes"
        if quote_line is None:
            return self.add(
                "Quote_Stripe_Coupon_Association__c", Quote__c=placed.quote["Id"], Quote_Stripe_Coupon__c=coupon["Id"]
            )
        return self.add(
            "Quote_Line_Stripe_Coupon_Association__c",
            Quote_Line__c=quote_line["Id"],
            Quote_Stripe_Coupon__c=coupon["Id"],
        )

    def order_coupon(self, coupon: Record, *, order: Record | None = None, item: Record | None = None,
                     **overrides: Any) -> Record:
        """The activation trigger's snapshot of `coupon` on an order or order line (F43), as already in the org."""
        values = {name: coupon.get(name) for name in (
            "Name__c", "Amount_Off__c", "Percent_Off__c", "Duration__c", "Duration_In_Months__c", "Max_Redemptions__c"
        )}
        return self.add(
            "Order_Stripe_Coupon__c",
            Order__c=order["Id"] if order else None,
            Order_Item__c=item["Id"] if item else None,
            Quote_Stripe_Coupon_Id__c=coupon["Id"],
            CurrencyIsoCode=coupon.get("CurrencyIsoCode"),
            **(values | overrides),
        )

