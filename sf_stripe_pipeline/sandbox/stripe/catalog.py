"""Customers and the catalogue the pipeline prices against: products, prices and coupons.

The rules here are the ones a sync trips over against real Stripe: prices keep their amounts for life
and own their `lookup_key` exclusively (unless the key is transferred), products and coupons accept
custom ids once, coupons need a currency for `amount_off` and months for `repeating`.
"""

from __future__ import annotations

import string
from decimal import Decimal
from typing import Any

import stripe

from .base import Context, Resource, StripeObject
from .errors import StripeApiError, invalid, missing_param, nested_param, within
from .search import field
from .store import Condition


def exclusive(params: dict[str, Any], *names: str, prefix: str | None = None) -> None:
    given = [name for name in names if params.get(name) is not None]
    if len(given) > 1:
        raise invalid(
            f"You may only specify one of these parameters: {', '.join(given)}.",
            nested_param(prefix, given[1]),
            "parameters_exclusive",
        )


class Customers(Resource):
    api_class = stripe.Customer
    id_prefix = "cus_"
    list_filters = {"email": "email", "test_clock": "test_clock"}
    write_only = frozenset({"payment_method", "source", "tax", "tax_id_data", "validate", "cash_balance"})
    keeps_deleted = True
    search_fields = {
        "created": field("created", "number"),
        "email": field("email"),
        "name": field("name"),
        "phone": field("phone"),
    }

    def defaults(self, ctx: Context) -> StripeObject:
        return {
            "address": None,
            "balance": 0,
            "business_name": None,
            "currency": None,
            "customer_account": None,
            "default_source": None,
            "delinquent": False,
            "description": None,
            "discount": None,
            "email": None,
            "invoice_prefix": Context.new_id("", length=8, alphabet=string.ascii_uppercase),
            "individual_name": None,
            "invoice_settings": {
                "custom_fields": None,
                "default_payment_method": None,
                "footer": None,
                "rendering_options": None,
            },
            "name": None,
            "next_invoice_sequence": 1,
            "phone": None,
            "preferred_locales": [],
            "shipping": None,
            "tax_exempt": "none",
            "test_clock": None,
        }


class Products(Resource):
    api_class = stripe.Product
    id_prefix = "prod_"
    list_filters = {"active": "active", "ids": "id", "type": "type", "shippable": "shippable", "url": "url"}
    write_only = frozenset({"default_price_data", "tax_details"})
    search_fields = {
        "active": field("active", "boolean"),
        "created": field("created", "number"),
        "description": field("description"),
        "name": field("name"),
        "shippable": field("shippable", "boolean"),
        "url": field("url"),
    }

    def defaults(self, ctx: Context) -> StripeObject:
        return {
            "active": True,
            "default_price": None,
            "description": None,
            "images": [],
            "marketing_features": [],
            "package_dimensions": None,
            "shippable": None,
            "statement_descriptor": None,
            "tax_code": None,
            "type": "service",
            "unit_label": None,
            "updated": ctx.now,
            "url": None,
        }

    def create(self, ctx: Context, object_id: None, params: dict[str, Any]) -> StripeObject:
        product = self.build(ctx, params)
        ctx.insert(product)
        if (price_data := params.get("default_price_data")) is not None:
            price = PRICES.build(ctx, {**price_data, "product": product["id"]})
            ctx.insert(price)
            product["default_price"] = price["id"]
            ctx.replace(product)
        return self.render(ctx, product)

    def apply_update(self, ctx: Context, obj: StripeObject, params: dict[str, Any]) -> None:
        super().apply_update(ctx, obj, params)
        obj["updated"] = ctx.now

    def check_deletable(self, ctx: Context, obj: StripeObject) -> None:
        if ctx.store.find("price", [Condition("product", "=", obj["id"])], limit=1):
            raise invalid("This product cannot be deleted because it has one or more user-created prices.", "id")


class Prices(Resource):
    api_class = stripe.Price
    id_prefix = "price_"
    includable = frozenset({"tiers"})
    search_fields = {
        "active": field("active", "boolean"),
        "created": field("created", "number"),
        "currency": field("currency"),
        "lookup_key": field("lookup_key"),
        "product": field("product"),
        "type": field("type"),
    }
    list_filters = {
        "active": "active",
        "product": "product",
        "lookup_keys": "lookup_key",
        "type": "type",
        "currency": "currency",
    }
    write_only = frozenset({"product_data", "transfer_lookup_key"})

    def build(self, ctx: Context, params: dict[str, Any], allow_credit: bool = False) -> StripeObject:
        """`allow_credit`: a negative amount is a credit, which Stripe accepts only in `add_invoice_items`."""
        exclusive(params, "product", "product_data")
        fields = {
            "active": True,
            "billing_scheme": "per_unit",
            "currency_options": None,
            "custom_unit_amount": None,
            "lookup_key": None,
            "nickname": None,
            "tax_behavior": "unspecified",
            "tiers_mode": None,
            "transform_quantity": None,
            **self.stored_fields(params),
            "currency": params["currency"].lower(),
            "product": self._product_id(ctx, params),
            "type": "recurring" if params.get("recurring") else "one_time",
            "recurring": self._recurring(params.get("recurring")),
        }
        fields.update(self._amounts(params, fields["billing_scheme"], allow_credit))
        price = self.new_object(ctx, fields, params)
        self._claim_lookup_key(ctx, price, params)
        return price

    def apply_update(self, ctx: Context, obj: StripeObject, params: dict[str, Any]) -> None:
        super().apply_update(ctx, obj, params)
        self._claim_lookup_key(ctx, obj, params)

    def resolve(
        self,
        ctx: Context,
        line: dict[str, Any],
        param: str | None,
        price_type: str,
        allow_credit: bool = False,
        held: frozenset[str] = frozenset(),
    ) -> StripeObject:
        """The price of a subscription/phase/invoice item line: `price` by id, or an inline `price_data`. Prices in
        `held` are already on the object being changed: archiving a price does not stop what already uses it, so
        they may be inactive (a schedule keeps its archived line prices, and its phases still start with them)."""
        if line.get("price_data") is not None:
            # Inline prices are never listed as active; a credit (negative amount) only where Stripe allows one.
            try:
                price = self.build(ctx, {**line["price_data"], "active": False}, allow_credit)
            except StripeApiError as error:
                error.param = within(nested_param(param, "price_data"), error.param) if error.param else None
                raise
            ctx.insert(price)
            return price
        price_id = line.get("price") or line.get("plan")
        if price_id is None:
            raise missing_param(nested_param(param, "price"))
        return self.require_usable(ctx, price_id, nested_param(param, "price"), price_type, price_id in held)

    def require_usable(
        self, ctx: Context, price_id: str, param: str, price_type: str, held: bool = False
    ) -> StripeObject:
        """A price a subscription or invoice item may start using: existing, of the right type, and active unless
        it is `held` (already in use by the object being changed)."""
        price = self.load(ctx, price_id, param=param)
        if not price["active"] and not held:
            raise invalid("The price specified is inactive. This field only accepts active prices.", param)
        if price["type"] != price_type:
            raise invalid(
                f"The price specified is set to `type={price['type']}` but this field only accepts prices with "
                f"`type={price_type}`.",
                param,
            )
        return price

    @staticmethod
    def _product_id(ctx: Context, params: dict[str, Any]) -> str:
        if params.get("product_data") is not None:
            product = PRODUCTS.build(ctx, params["product_data"])
            ctx.insert(product)
            return product["id"]
        if params.get("product") is None:
            raise missing_param("product")
        return PRODUCTS.load(ctx, params["product"], param="product")["id"]

    @staticmethod
    def _recurring(recurring: dict[str, Any] | None) -> StripeObject | None:
        if not recurring:
            return None
        return {
            "interval": recurring["interval"],
            "interval_count": recurring.get("interval_count", 1),
            "meter": recurring.get("meter"),
            "trial_period_days": None,
            "usage_type": recurring.get("usage_type", "licensed"),
        }

    @staticmethod
    def _amounts(params: dict[str, Any], billing_scheme: str, allow_credit: bool) -> StripeObject:
        if billing_scheme == "tiered":
            return {"tiers": _tiers(params), "unit_amount": None, "unit_amount_decimal": None}
        for tier_param in ("tiers", "tiers_mode"):
            if params.get(tier_param) is not None:
                raise invalid(f"`{tier_param}` can only be set when `billing_scheme` is `tiered`.", tier_param)
        exclusive(params, "unit_amount", "unit_amount_decimal", "custom_unit_amount")
        if params.get("custom_unit_amount") is not None:
            return {"tiers": None, "unit_amount": None, "unit_amount_decimal": None}
        if params.get("unit_amount") is None and params.get("unit_amount_decimal") is None:
            raise missing_param("unit_amount")
        amounts = _amount_pair(params, "unit_amount")
        if not allow_credit:
            _require_non_negative(amounts, "unit_amount")
        return {"tiers": None, **amounts}

    def list_conditions(self, params: dict[str, Any]) -> list[Condition]:
        if len(params.get("lookup_keys") or []) > MAX_LOOKUP_KEYS:
            raise invalid(f"You can pass at most {MAX_LOOKUP_KEYS} lookup keys.", "lookup_keys")
        return super().list_conditions(params)

    def _claim_lookup_key(self, ctx: Context, price: StripeObject, params: dict[str, Any]) -> None:
        """A lookup key belongs to one price; `transfer_lookup_key` moves it from its current owner."""
        lookup_key = params.get("lookup_key")
        if lookup_key is None:
            return
        for holder in ctx.store.find("price", [Condition("lookup_key", "=", lookup_key)]):
            if holder["id"] == price["id"]:
                continue
            if not params.get("transfer_lookup_key"):
                raise invalid(
                    f"A price (`{holder['id']}`) already uses that lookup key. Pass `transfer_lookup_key=true` to "
                    "move it to this price.",
                    "lookup_key",
                )
            holder["lookup_key"] = None
            ctx.replace(holder)


MAX_LOOKUP_KEYS = 10


def _tiers(params: dict[str, Any]) -> list[StripeObject]:
    """Stripe's rules for `billing_scheme=tiered`: recurring only, `tiers_mode` and `tiers` required, no flat
    unit amount, each tier priced by a unit and/or flat amount, `up_to` ascending with only the last `inf`."""
    if params.get("recurring") is None:
        raise invalid("Tiered prices (`billing_scheme=tiered`) must be recurring: pass `recurring`.", "billing_scheme")
    for required in ("tiers_mode", "tiers"):
        if not params.get(required):
            raise missing_param(required)
    for refused in ("unit_amount", "unit_amount_decimal", "custom_unit_amount", "transform_quantity"):
        if params.get(refused) is not None:
            raise invalid(f"`{refused}` cannot be used with `billing_scheme=tiered`; price each tier instead.", refused)
    tiers, previous_up_to, last = [], 0, len(params["tiers"]) - 1
    for index, tier in enumerate(params["tiers"]):
        param = f"tiers[{index}]"
        exclusive(tier, "unit_amount", "unit_amount_decimal", prefix=param)
        exclusive(tier, "flat_amount", "flat_amount_decimal", prefix=param)
        if all(tier.get(name) is None for name in ("unit_amount", "unit_amount_decimal", "flat_amount",
                                                     "flat_amount_decimal")):
            raise invalid(f"Each tier needs a `unit_amount` or a `flat_amount` (or both): {param} has neither.", param)
        up_to = tier["up_to"]
        if up_to == "inf":
            if index != last:
                raise invalid("Only the last tier can have `up_to=inf`.", f"{param}[up_to]")
        elif index == last:
            raise invalid("The last tier must have `up_to=inf`.", f"{param}[up_to]")
        elif up_to <= previous_up_to:
            raise invalid(
                f"Tiers must be in ascending order of `up_to`: {param}[up_to] ({up_to}) must be greater than "
                f"{previous_up_to}.",
                f"{param}[up_to]",
            )
        else:
            previous_up_to = up_to
        amounts = {**_amount_pair(tier, "flat_amount"), **_amount_pair(tier, "unit_amount")}
        _require_non_negative(amounts, f"{param}[unit_amount]")
        tiers.append({**amounts, "up_to": None if up_to == "inf" else up_to})
    return tiers


def _require_non_negative(amounts: StripeObject, param: str) -> None:
    for name, value in amounts.items():
        if value is not None and Decimal(str(value)) < 0:
            raise invalid(f"Invalid {name}: must be greater than or equal to 0.", param)


def _amount_pair(source: dict[str, Any], name: str) -> StripeObject:
    """Stripe reports an amount twice: integer minor units (null if fractional) and the decimal string."""
    integer, decimal_text = source.get(name), source.get(f"{name}_decimal")
    if integer is not None:
        return {name: integer, f"{name}_decimal": str(integer)}
    if decimal_text is None:
        return {name: None, f"{name}_decimal": None}
    amount = Decimal(decimal_text)
    return {name: int(amount) if amount == amount.to_integral_value() else None, f"{name}_decimal": decimal_text}


class Coupons(Resource):
    api_class = stripe.Coupon
    id_prefix = ""

    def new_id(self) -> str:
        return Context.new_id("", length=8)

    def build(self, ctx: Context, params: dict[str, Any]) -> StripeObject:
        self._check_terms(params)
        fields = {
            "amount_off": None,
            "applies_to": None,
            "currency": None,
            "currency_options": None,
            "duration": "once",
            "duration_in_months": None,
            "max_redemptions": None,
            "name": None,
            "percent_off": None,
            "redeem_by": None,
            "times_redeemed": 0,
            "valid": True,
            **self.stored_fields(params),
        }
        if fields["currency"]:
            fields["currency"] = fields["currency"].lower()
        return self.new_object(ctx, fields, params)

    @staticmethod
    def _check_terms(params: dict[str, Any]) -> None:
        exclusive(params, "percent_off", "amount_off")
        percent_off, amount_off = params.get("percent_off"), params.get("amount_off")
        if percent_off is None and amount_off is None:
            raise StripeApiError(
                "You must pass either `percent_off` or `amount_off`.", code="parameter_missing", param="percent_off"
            )
        if percent_off is not None and not 0 < percent_off <= 100:
            raise invalid("Invalid percent_off: must be greater than 0 and at most 100.", "percent_off")
        if amount_off is not None:
            if amount_off <= 0:
                raise invalid("Invalid amount_off: must be a positive integer.", "amount_off")
            if not params.get("currency"):
                raise StripeApiError(
                    "You must pass `currency` when passing `amount_off`.", code="parameter_missing", param="currency"
                )
        repeating = params.get("duration") == "repeating"
        if repeating and params.get("duration_in_months") is None:
            raise missing_param("duration_in_months")
        if not repeating and params.get("duration_in_months") is not None:
            raise invalid("`duration_in_months` can only be set when `duration` is `repeating`.", "duration_in_months")

    def redeem(self, ctx: Context, coupon_id: str, param: str) -> StripeObject:
        """Count one redemption, refusing coupons that are used up or past `redeem_by`."""
        coupon = self.load(ctx, coupon_id, param=param)
        expired = coupon["redeem_by"] is not None and coupon["redeem_by"] <= ctx.now
        if not coupon["valid"] or expired:
            raise invalid(f"Coupon expired: {coupon_id}", param)
        coupon["times_redeemed"] += 1
        if coupon["max_redemptions"] is not None and coupon["times_redeemed"] >= coupon["max_redemptions"]:
            coupon["valid"] = False
        ctx.replace(coupon)
        return coupon


CUSTOMERS = Customers()
PRODUCTS = Products()
PRICES = Prices()
COUPONS = Coupons()
