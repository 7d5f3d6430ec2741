"""Billing objects: subscriptions and their items, subscription schedules, invoice items and invoices.

Subscription items are stored as their own objects and joined into `subscription.items` when shown,
so the subscription-items endpoints and the subscription stay consistent without copies. Schedules
have no background worker: whenever one is read or listed it is advanced to the sandbox clock
(`clock.now_timestamp()`): its status and current phase are derived from the phases, and the
subscription it drives is created or made to mirror the current phase. Invoice lines and totals are
likewise derived from the invoice items attached to the invoice.
"""

from __future__ import annotations

import secrets
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import stripe

from .base import Context, Resource, StripeObject, add_interval, check_collection_method, current_period, merge_metadata
from .catalog import COUPONS, CUSTOMERS, PRICES, exclusive
from .errors import invalid, missing_param, nested_param, no_such
from .search import SearchField, field
from .store import Condition

TERMINAL_SCHEDULE_STATUSES = frozenset({"canceled", "released", "completed"})
_PHASE_DERIVED = frozenset({"start_date", "end_date", "duration", "add_invoice_items", "items", "discounts", "metadata"})
"""Phase parameters the schedule turns into something else (validated lines, timestamps) rather than storing."""


def create_discounts(
    ctx: Context,
    specs: list[dict[str, Any]] | None,
    param: str,
    customer: str,
    subscription: str | None = None,
    subscription_item: str | None = None,
) -> list[str]:
    """Turn `discounts=[{coupon|discount|promotion_code}]` into discount objects; returns their ids."""
    discount_ids = []
    for index, spec in enumerate(specs or []):
        spec_param = f"{param}[{index}]"
        if spec.get("discount"):
            if ctx.store.get("discount", spec["discount"]) is None:
                raise no_such("discount", spec["discount"], f"{spec_param}[discount]")
            discount_ids.append(spec["discount"])
            continue
        if spec.get("promotion_code"):
            raise no_such("promotion_code", spec["promotion_code"], f"{spec_param}[promotion_code]")
        if not spec.get("coupon"):
            raise missing_param(f"{spec_param}[coupon]")
        coupon = COUPONS.redeem(ctx, spec["coupon"], f"{spec_param}[coupon]")
        months = coupon["duration_in_months"]
        discount = {
            "id": Context.new_id("di_"),
            "object": "discount",
            "checkout_session": None,
            "customer": customer,
            "end": add_interval(ctx.now, "month", months) if months else None,
            "invoice": None,
            "invoice_item": None,
            "promotion_code": None,
            "source": {"coupon": coupon["id"], "type": "coupon"},
            "start": ctx.now,
            "subscription": subscription,
            "subscription_item": subscription_item,
        }
        ctx.insert(discount)
        discount_ids.append(discount["id"])
    return discount_ids


def is_metered(price: StripeObject) -> bool:
    return (price.get("recurring") or {}).get("usage_type") == "metered"


def line_quantity(price: StripeObject, line: dict[str, Any], param: str | None) -> dict[str, int]:
    """`{"quantity": n}` for a licensed price (default 1); Stripe bills metered prices by usage, refuses a
    quantity for them and shows none."""
    if not is_metered(price):
        return {"quantity": 1 if line.get("quantity") is None else line["quantity"]}
    if line.get("quantity") is not None:
        raise invalid(
            f"Quantity should not be specified where usage_type is `metered`. Remove quantity from "
            f"`{param or 'the request'}`.",
            nested_param(param, "quantity"),
        )
    return {}


def refuse_repeated_prices(price_ids: list[str], param: str) -> None:
    """A subscription (or a schedule phase) holds each price at most once; quantities say how many."""
    seen: set[str] = set()
    for index, price_id in enumerate(price_ids):
        if price_id in seen:
            raise invalid(
                f"Cannot add multiple subscription items with the same price: {price_id}.", f"{param}[{index}][price]"
            )
        seen.add(price_id)


def _timestamp(ctx: Context, value: int | str) -> int:
    """A timestamp parameter that may also be `now`."""
    return ctx.now if value == "now" else int(value)


# -- subscriptions ----------------------------------------------------------------------------------


class Subscriptions(Resource):
    api_class = stripe.Subscription
    id_prefix = "sub_"
    list_filters = {"customer": "customer", "collection_method": "collection_method"}
    list_params = frozenset({"status", "price", "plan"})
    search_fields = {"created": field("created", "number"), "status": field("status")}
    write_only = frozenset(
        {
            "items", "discounts", "cancel_at", "add_invoice_items", "backdate_start_date", "billing_cycle_anchor",
            "billing_cycle_anchor_config", "off_session", "payment_behavior", "proration_behavior", "proration_date",
            "trial_end", "trial_from_plan", "trial_period_days",
        }
    )  # fmt: skip
    delete_operation = "cancel"

    def create(self, ctx: Context, object_id: None, params: dict[str, Any]) -> StripeObject:
        return self.render(ctx, self.start(ctx, params))

    def start(
        self, ctx: Context, params: dict[str, Any], schedule: str | None = None, start_date: int | None = None
    ) -> StripeObject:
        """Create a subscription (also used by schedules when their first phase begins)."""
        if not params.get("customer"):
            raise missing_param("customer")
        customer = CUSTOMERS.load(ctx, params["customer"], param="customer")
        if not params.get("items"):
            raise missing_param("items")
        collection_method = params.get("collection_method", "charge_automatically")
        check_collection_method(collection_method, params.get("days_until_due"))
        started = start_date or params.get("backdate_start_date") or ctx.now
        trial_end = self._trial_end(ctx, params, started)
        subscription = self.new_object(
            ctx,
            {
                "application": None,
                "application_fee_percent": None,
                "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
                "billing_cycle_anchor_config": None,
                "billing_mode": {"type": "classic"},
                "billing_thresholds": None,
                "cancel_at_period_end": False,
                "canceled_at": None,
                "cancellation_details": {"comment": None, "feedback": None, "reason": None},
                "customer_account": None,
                "days_until_due": None,
                "default_payment_method": None,
                "default_source": None,
                "default_tax_rates": [],
                "description": None,
                "ended_at": None,
                "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
                "latest_invoice": None,
                "next_pending_invoice_item_invoice": None,
                "on_behalf_of": None,
                "pause_collection": None,
                "payment_settings": None,
                "pending_invoice_item_interval": None,
                "pending_setup_intent": None,
                "pending_update": None,
                "test_clock": None,
                "transfer_data": None,
                "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
                **self.stored_fields(params),
                "billing_cycle_anchor": params.get("billing_cycle_anchor", started),
                "collection_method": collection_method,
                "customer": customer["id"],
                "schedule": schedule,
                "start_date": started,
                "status": "trialing" if trial_end and trial_end > ctx.now else "active",
                "trial_start": started if trial_end else None,
                "trial_end": trial_end,
            },
            params,
        )
        subscription["discounts"] = create_discounts(
            ctx, params.get("discounts"), "discounts", customer["id"], subscription["id"]
        )
        # A schedule's phase prices were checked when the schedule was saved; archiving them since does not matter.
        held = frozenset(item["price"] for item in params["items"]) if schedule else frozenset()
        items = [
            SUBSCRIPTION_ITEMS.attach(ctx, subscription, item, f"items[{index}]", held)
            for index, item in enumerate(params["items"])
        ]
        currencies = {item["price"]["currency"] for item in items}
        if len(currencies) > 1:
            raise invalid("All prices on a subscription must have the same `currency`.", "items")
        subscription["currency"] = currencies.pop()
        subscription["cancel_at"] = self._cancel_at(params.get("cancel_at"), items)
        ctx.insert(subscription)
        return subscription

    def apply_update(self, ctx: Context, obj: StripeObject, params: dict[str, Any]) -> None:
        if obj["status"] == "canceled" and set(params) - {"metadata", "cancellation_details", "expand"}:
            raise invalid("A canceled subscription can only update its cancellation_details and metadata.", "id")
        for index, item in enumerate(params.get("items", [])):
            SUBSCRIPTION_ITEMS.change_from_subscription(ctx, obj, item, f"items[{index}]")
        if "discounts" in params:
            obj["discounts"] = create_discounts(ctx, params["discounts"], "discounts", obj["customer"], obj["id"])
        if params.get("collection_method") == "charge_automatically" and "days_until_due" not in params:
            obj["days_until_due"] = None
        super().apply_update(ctx, obj, params)
        if {"collection_method", "days_until_due"} & params.keys():
            check_collection_method(obj["collection_method"], obj["days_until_due"])
        if "cancel_at" in params:
            obj["cancel_at"] = self._cancel_at(params["cancel_at"], SUBSCRIPTION_ITEMS.of(ctx, obj["id"]))

    def cancel(self, ctx: Context, object_id: str, params: dict[str, Any]) -> StripeObject:
        subscription = self.load(ctx, object_id)
        if subscription["status"] == "canceled":
            raise invalid(f"The subscription {object_id} has already been canceled.", "id")
        self.terminate(ctx, subscription, ctx.now)
        return self.render(ctx, subscription)

    def terminate(self, ctx: Context, subscription: StripeObject, at: int) -> None:
        subscription.update(status="canceled", canceled_at=at, ended_at=at)
        subscription["cancellation_details"]["reason"] = "cancellation_requested"
        ctx.replace(subscription)

    def follow_phase(self, ctx: Context, subscription_id: str, params: dict[str, Any]) -> None:
        """Make a schedule's subscription mirror a new phase: its items, discounts and billing settings."""
        subscription = self.load(ctx, subscription_id)
        for item in SUBSCRIPTION_ITEMS.of(ctx, subscription_id):
            ctx.store.remove(item["object"], item["id"])
        held = frozenset(item["price"] for item in params["items"])  # checked when the schedule was saved
        for index, item in enumerate(params["items"]):
            SUBSCRIPTION_ITEMS.attach(ctx, subscription, item, f"items[{index}]", held)
        subscription["discounts"] = create_discounts(
            ctx, params["discounts"], "discounts", subscription["customer"], subscription_id
        )
        subscription.update(
            collection_method=params["collection_method"],
            days_until_due=params["days_until_due"],
            metadata=params["metadata"],
        )
        ctx.replace(subscription)

    def render(self, ctx: Context, obj: StripeObject) -> StripeObject:
        items = [SUBSCRIPTION_ITEMS.render(ctx, item) for item in SUBSCRIPTION_ITEMS.of(ctx, obj["id"])]
        return super().render(ctx, obj) | {
            "items": {
                "object": "list",
                "data": items,
                "has_more": False,
                "total_count": len(items),
                "url": f"/v1/subscription_items?subscription={obj['id']}",
            }
        }

    def list_conditions(self, params: dict[str, Any]) -> list[Condition]:
        for unsupported in ("price", "plan"):
            if params.get(unsupported):
                raise invalid(f"The Stripe sandbox does not filter subscriptions by `{unsupported}`.", unsupported)
        status = params.get("status")
        if status is None:
            status_conditions = [Condition("status", "!=", "canceled")]  # Stripe's default: not canceled
        elif status == "all":
            status_conditions = []
        else:
            status_conditions = [Condition("status", "=", "canceled" if status == "ended" else status)]
        return super().list_conditions(params) + status_conditions

    @staticmethod
    def _trial_end(ctx: Context, params: dict[str, Any], started: int) -> int | None:
        if params.get("trial_end") is not None:
            return _timestamp(ctx, params["trial_end"])
        if params.get("trial_period_days"):
            return started + params["trial_period_days"] * 86_400
        return None

    @staticmethod
    def _cancel_at(cancel_at: int | str | None, items: list[StripeObject]) -> int | None:
        """`cancel_at` as a timestamp; the named choices resolve against the items' current periods."""
        if cancel_at is None or isinstance(cancel_at, int):
            return cancel_at
        ends = [item["current_period_end"] for item in items]
        return min(ends) if cancel_at == "min_period_end" else max(ends)


class SubscriptionItems(Resource):
    api_class = stripe.SubscriptionItem
    id_prefix = "si_"
    list_filters = {"subscription": "subscription"}
    write_only = frozenset(
        {
            "price", "price_data", "plan", "discounts", "subscription", "clear_usage", "current_trial", "deleted",
            "id", "off_session", "payment_behavior", "proration_behavior", "proration_date",
        }
    )  # fmt: skip

    def create(self, ctx: Context, object_id: None, params: dict[str, Any]) -> StripeObject:
        subscription = SUBSCRIPTIONS.load(ctx, params["subscription"], param="subscription")
        if subscription["status"] == "canceled":
            raise invalid("You cannot add items to a canceled subscription.", "subscription")
        return self.render(ctx, self.attach(ctx, subscription, params, None))

    def attach(
        self,
        ctx: Context,
        subscription: StripeObject,
        line: dict[str, Any],
        param: str | None,
        held: frozenset[str] = frozenset(),
    ) -> StripeObject:
        """Add one item to `subscription`; `param` prefixes error params (`items[0]`), None at top level. Prices in
        `held` may be inactive (see `PRICES.resolve`)."""
        price = PRICES.resolve(ctx, line, param, "recurring", held=held)
        if any(item["price"]["id"] == price["id"] for item in self.of(ctx, subscription["id"])):
            raise invalid(
                f"Cannot add multiple subscription items with the same price: {price['id']}.",
                nested_param(param, "price"),
            )
        period_start, period_end = current_period(
            subscription["billing_cycle_anchor"],
            price["recurring"]["interval"],
            price["recurring"]["interval_count"],
            ctx.now,
        )
        item = self.new_object(
            ctx,
            {
                "billing_thresholds": None,
                "tax_rates": [],
                **{key: value for key, value in self.stored_fields(line).items() if key != "quantity"},
                "current_period_start": period_start,
                "current_period_end": period_end,
                "price": PRICES.render(ctx, price),
                **line_quantity(price, line, param),
                "subscription": subscription["id"],
            },
            {"metadata": line.get("metadata", {})},
        )
        item["discounts"] = create_discounts(
            ctx,
            line.get("discounts"),
            nested_param(param, "discounts"),
            subscription["customer"],
            subscription["id"],
            item["id"],
        )
        ctx.insert(item)
        return item

    def change_from_subscription(
        self, ctx: Context, subscription: StripeObject, line: dict[str, Any], param: str
    ) -> None:
        """One entry of `items` on a subscription update: add, change (`id`) or remove (`id` + `deleted`)."""
        if not line.get("id"):
            self.attach(ctx, subscription, line, param)
            return
        item = self.load(ctx, line["id"], param=f"{param}[id]")
        if item["subscription"] != subscription["id"]:
            raise invalid(f"Subscription item {line['id']} does not belong to this subscription.", f"{param}[id]")
        if line.get("deleted"):
            ctx.store.remove(item["object"], item["id"])
            return
        self.apply_update(ctx, item, line, param)
        ctx.replace(item)

    def apply_update(self, ctx: Context, obj: StripeObject, params: dict[str, Any], param: str | None = None) -> None:
        price_changed = bool(params.get("price") or params.get("plan") or params.get("price_data"))
        if price_changed:
            obj["price"] = PRICES.render(ctx, PRICES.resolve(ctx, params, param, "recurring"))
        if price_changed or "quantity" in params:
            kept = None if is_metered(obj["price"]) else obj.pop("quantity", None)  # a licensed quantity carries on
            obj.pop("quantity", None)
            obj.update(line_quantity(obj["price"], {"quantity": params.get("quantity", kept)}, param))
        params = {key: value for key, value in params.items() if key != "quantity"}
        if "discounts" in params:
            subscription = SUBSCRIPTIONS.load(ctx, obj["subscription"])
            obj["discounts"] = create_discounts(
                ctx,
                params["discounts"],
                nested_param(param, "discounts"),
                subscription["customer"],
                subscription["id"],
                obj["id"],
            )
        super().apply_update(ctx, obj, params)

    def render(self, ctx: Context, obj: StripeObject) -> StripeObject:
        return {key: value for key, value in super().render(ctx, obj).items() if key != "livemode"}  # as Stripe

    def of(self, ctx: Context, subscription_id: str) -> list[StripeObject]:
        return self.oldest_first(ctx, [Condition("subscription", "=", subscription_id)])


# -- subscription schedules -----------------------------------------------------------------------


class SubscriptionSchedules(Resource):
    api_class = stripe.SubscriptionSchedule
    id_prefix = "sub_sched_"
    list_filters = {"customer": "customer"}
    write_only = frozenset({"phases", "start_date", "from_subscription", "default_settings", "proration_behavior"})
    actions = {"cancel": "cancel", "release": "release"}

    def build(self, ctx: Context, params: dict[str, Any]) -> StripeObject:
        if params.get("from_subscription"):
            return self._from_subscription(ctx, params)
        if not params.get("customer"):
            raise missing_param("customer")
        customer = CUSTOMERS.load(ctx, params["customer"], param="customer")
        if not params.get("phases"):
            raise missing_param("phases")
        default_settings = self._default_settings({}, params.get("default_settings"))
        fields = (
            self._defaults()
            | self.stored_fields(params)
            | {"customer": customer["id"], "default_settings": default_settings}
        )
        fields["phases"] = self._phases(
            ctx, params["phases"], _timestamp(ctx, params.get("start_date", "now")), default_settings
        )
        return self.new_object(ctx, fields, params)

    def apply_update(self, ctx: Context, schedule: StripeObject, params: dict[str, Any]) -> None:
        if schedule["status"] in TERMINAL_SCHEDULE_STATUSES:
            raise invalid(
                f"You cannot update a subscription schedule that is currently in the `{schedule['status']}` status.",
                "id",
            )
        if "default_settings" in params:
            schedule["default_settings"] = self._default_settings(
                schedule["default_settings"], params["default_settings"]
            )
        if params.get("phases"):
            start = self._first_phase_start(ctx, schedule, params["phases"][0])
            held = frozenset(
                line["price"]
                for phase in schedule["phases"]
                for line in (*phase["items"], *phase["add_invoice_items"])
            )
            schedule["phases"] = self._phases(ctx, params["phases"], start, schedule["default_settings"], held)
            schedule["_mirrored_phase"] = None  # the subscription follows the new phase list on refresh
        super().apply_update(ctx, schedule, params)

    def cancel(self, ctx: Context, object_id: str, params: dict[str, Any]) -> StripeObject:
        schedule = self._load_open(ctx, object_id, "cancel")
        if schedule["subscription"]:
            SUBSCRIPTIONS.terminate(ctx, SUBSCRIPTIONS.load(ctx, schedule["subscription"]), ctx.now)
        schedule.update(status="canceled", canceled_at=ctx.now, current_phase=None)
        ctx.replace(schedule)
        return self.render(ctx, schedule)

    def release(self, ctx: Context, object_id: str, params: dict[str, Any]) -> StripeObject:
        schedule = self._load_open(ctx, object_id, "release")
        self._release(ctx, schedule, ctx.now)
        ctx.replace(schedule)
        return self.render(ctx, schedule)

    def refresh(self, ctx: Context, obj: StripeObject) -> StripeObject:
        """Advance the schedule to the sandbox clock: status, current phase and the subscription it drives."""
        if obj["status"] in TERMINAL_SCHEDULE_STATUSES:
            return obj
        before = (obj["status"], obj["current_phase"], obj.get("_mirrored_phase"))
        phases = obj["phases"]
        current = next(
            (index for index, phase in enumerate(phases) if phase["start_date"] <= ctx.now < phase["end_date"]), None
        )
        invoiced = list(obj.get("_invoiced_phase_starts") or [])
        if ctx.now < phases[0]["start_date"]:
            obj.update(status="not_started", current_phase=None)
        elif current is None:  # past the last phase
            self._mirror(ctx, obj, len(phases) - 1)
            self._add_started_phases_invoice_items(ctx, obj)
            self._finish(ctx, obj)
        else:
            self._mirror(ctx, obj, current)
            self._add_started_phases_invoice_items(ctx, obj)
            phase = phases[current]
            obj.update(
                status="active", current_phase={"start_date": phase["start_date"], "end_date": phase["end_date"]}
            )
        state = (obj["status"], obj["current_phase"], obj.get("_mirrored_phase"), obj.get("_invoiced_phase_starts"))
        if state != (*before, invoiced or None):
            ctx.replace(obj)
        return obj

    @staticmethod
    def _add_started_phases_invoice_items(ctx: Context, schedule: StripeObject) -> None:
        """When a later phase starts, its `add_invoice_items` become pending invoice items of the subscription, which
        its next invoice sweeps in (Stripe; the first phase's go on the subscription's first invoice, which the
        sandbox does not generate). Each phase start is billed once, whatever updates rewrite the phase list."""
        invoiced = list(schedule.get("_invoiced_phase_starts") or [])
        for phase in schedule["phases"][1:]:
            if phase["start_date"] > ctx.now or phase["start_date"] in invoiced:
                continue
            invoiced.append(phase["start_date"])
            for line in phase["add_invoice_items"]:
                INVOICE_ITEMS.insert_from_phase(ctx, schedule["customer"], schedule["subscription"], phase, line)
        schedule["_invoiced_phase_starts"] = invoiced or None

    # -- internals -------------------------------------------------------------------------------

    @staticmethod
    def _defaults() -> StripeObject:
        return {
            "application": None,
            "billing_mode": {"type": "classic"},
            "canceled_at": None,
            "completed_at": None,
            "current_phase": None,
            "customer_account": None,
            "end_behavior": "release",
            "released_at": None,
            "released_subscription": None,
            "status": "not_started",
            "subscription": None,
            "test_clock": None,
        }

    @staticmethod
    def _default_settings(current: StripeObject, given: dict[str, Any] | None) -> StripeObject:
        settings = current or {
            "application_fee_percent": None,
            "automatic_tax": {"enabled": False, "liability": None},
            "billing_cycle_anchor": "automatic",
            "billing_thresholds": None,
            "collection_method": "charge_automatically",
            "default_payment_method": None,
            "description": None,
            "invoice_settings": {"account_tax_ids": None, "days_until_due": None, "issuer": {"type": "self"}},
            "on_behalf_of": None,
            "transfer_data": None,
        }
        given = given or {}
        invoice_settings = settings["invoice_settings"] | given.get("invoice_settings", {})
        return settings | given | {"invoice_settings": invoice_settings}

    def _first_phase_start(self, ctx: Context, schedule: StripeObject, first_phase: dict[str, Any]) -> int:
        """An update may move a schedule that has not started; once active, its current phase keeps its start."""
        requested = first_phase.get("start_date")
        if schedule["status"] != "active":
            return schedule["phases"][0]["start_date"] if requested is None else _timestamp(ctx, requested)
        current_start = schedule["current_phase"]["start_date"]
        if requested is not None and _timestamp(ctx, requested) != current_start:
            raise invalid("You can not modify the start date of the current phase.", "phases[0][start_date]")
        return current_start

    def _phases(
        self,
        ctx: Context,
        given_phases: list[dict[str, Any]],
        start: int,
        default_settings: StripeObject,
        held: frozenset[str] = frozenset(),
    ) -> list[StripeObject]:
        """Validate and lay out consecutive phases: each starts where the previous one ends. Prices in `held` are
        already on the schedule and may have been archived since."""
        phases: list[StripeObject] = []
        phase_start = start
        for index, given in enumerate(given_phases):
            param = f"phases[{index}]"
            if index and given.get("start_date") is not None and _timestamp(ctx, given["start_date"]) != phase_start:
                raise invalid(
                    f"Phases must be contiguous: {param}[start_date] must equal the previous phase's end.",
                    f"{param}[start_date]",
                )
            items = [
                self._phase_item(ctx, item, f"{param}[items][{number}]", held)
                for number, item in enumerate(given["items"])
            ]
            if not items:
                raise missing_param(f"{param}[items]")
            refuse_repeated_prices([item["price"] for item in items], f"{param}[items]")
            phase = {
                "application_fee_percent": None,
                "automatic_tax": None,
                "billing_cycle_anchor": None,
                "billing_thresholds": None,
                "collection_method": None,
                "default_payment_method": None,
                "default_tax_rates": [],
                "description": None,
                "invoice_settings": None,
                "on_behalf_of": None,
                "proration_behavior": "create_prorations",
                "transfer_data": None,
                "trial_end": None,
                **{key: value for key, value in given.items() if key not in _PHASE_DERIVED},
                "add_invoice_items": [
                    self._add_invoice_item(ctx, item, f"{param}[add_invoice_items][{number}]", held)
                    for number, item in enumerate(given.get("add_invoice_items", []))
                ],
                "currency": PRICES.load(ctx, items[0]["price"])["currency"],
                "discounts": self._discount_specs(ctx, given.get("discounts"), f"{param}[discounts]"),
                "items": items,
                "metadata": merge_metadata({}, given.get("metadata", {}), f"{param}[metadata]"),
                "start_date": phase_start,
                "end_date": self._phase_end(
                    ctx, given, phase_start, items, param, is_last=index == len(given_phases) - 1
                ),
            }
            subscription_params = self._subscription_params(phase, default_settings)
            check_collection_method(subscription_params["collection_method"], subscription_params["days_until_due"])
            phases.append(phase)
            phase_start = phase["end_date"]
        return phases

    @staticmethod
    def _phase_end(
        ctx: Context, given: dict[str, Any], start: int, items: list[StripeObject], param: str, is_last: bool
    ) -> int:
        if given.get("end_date") is not None and given.get("duration") is not None:
            raise invalid(
                "You may only specify one of these parameters: end_date, duration.",
                f"{param}[duration]",
                "parameters_exclusive",
            )
        if given.get("end_date") is not None:
            end = _timestamp(ctx, given["end_date"])
        elif given.get("duration") is not None:
            end = add_interval(start, given["duration"]["interval"], given["duration"].get("interval_count", 1))
        elif is_last:  # an open last phase runs one billing period of its first price
            recurring = PRICES.load(ctx, items[0]["price"])["recurring"]
            end = add_interval(start, recurring["interval"], recurring["interval_count"])
        else:
            raise invalid(
                f"{param} needs an `end_date` or a `duration`: only the last phase may omit both.", f"{param}[end_date]"
            )
        if end <= start:
            raise invalid(f"The end of {param} must be after its start ({start}).", f"{param}[end_date]")
        return end

    def _phase_item(
        self, ctx: Context, item: dict[str, Any], param: str, held: frozenset[str] = frozenset()
    ) -> StripeObject:
        line = self._phase_line(ctx, item, param, "recurring", held)
        return line | {"billing_thresholds": None, "plan": line["price"]}

    def _add_invoice_item(
        self, ctx: Context, item: dict[str, Any], param: str, held: frozenset[str] = frozenset()
    ) -> StripeObject:
        default_period = {"start": {"type": "phase_start"}, "end": {"type": "phase_end"}}
        line = self._phase_line(ctx, item, param, "one_time", held)
        return line | {"discountable": True, "period": item.get("period") or default_period}

    def _phase_line(
        self, ctx: Context, line: dict[str, Any], param: str, price_type: str, held: frozenset[str] = frozenset()
    ) -> StripeObject:
        """What phase items and add-invoice-items share: a price, a quantity, discounts and metadata.
        Only add-invoice-items may carry a credit (a negative `price_data` amount), as with Stripe."""
        price = PRICES.resolve(ctx, line, param, price_type, allow_credit=price_type == "one_time", held=held)
        return {
            "discounts": self._discount_specs(ctx, line.get("discounts"), f"{param}[discounts]"),
            "metadata": merge_metadata({}, line.get("metadata", {}), f"{param}[metadata]"),
            "price": price["id"],
            **line_quantity(price, line, param),
            "tax_rates": line.get("tax_rates") or [],
        }

    @staticmethod
    def _discount_specs(ctx: Context, specs: list[dict[str, Any]] | None, param: str) -> list[StripeObject]:
        """Schedules keep discounts as requested ({coupon, discount, promotion_code}); coupons must exist."""
        for index, spec in enumerate(specs or []):
            if spec.get("coupon"):
                COUPONS.load(ctx, spec["coupon"], param=f"{param}[{index}][coupon]")
        return [{"coupon": None, "discount": None, "promotion_code": None} | spec for spec in specs or []]

    @staticmethod
    def _subscription_params(phase: StripeObject, default_settings: StripeObject) -> dict[str, Any]:
        """What a phase asks of the subscription it drives."""
        collection_method = phase["collection_method"] or default_settings["collection_method"]
        invoice_settings = phase["invoice_settings"] or default_settings["invoice_settings"]
        send_invoice = collection_method == "send_invoice"

        def discount_params(specs: list[StripeObject]) -> list[dict[str, str]]:
            return [{key: value for key, value in spec.items() if value} for spec in specs]

        return {
            "items": [
                {
                    "price": item["price"],
                    **({"quantity": item["quantity"]} if "quantity" in item else {}),
                    "metadata": item["metadata"],
                    "discounts": discount_params(item["discounts"]),
                }
                for item in phase["items"]
            ],
            "discounts": discount_params(phase["discounts"]),
            "collection_method": collection_method,
            "days_until_due": invoice_settings.get("days_until_due") if send_invoice else None,
            "metadata": phase["metadata"],
        }

    def _mirror(self, ctx: Context, schedule: StripeObject, phase_index: int) -> None:
        """Create the schedule's subscription at its start, or move it onto phase `phase_index`."""
        if schedule.get("_mirrored_phase") == phase_index:
            return
        params = self._subscription_params(schedule["phases"][phase_index], schedule["default_settings"])
        if schedule["subscription"] is None:
            subscription = SUBSCRIPTIONS.start(
                ctx,
                params | {"customer": schedule["customer"]},
                schedule=schedule["id"],
                start_date=schedule["phases"][0]["start_date"],
            )
            schedule["subscription"] = subscription["id"]
        else:
            SUBSCRIPTIONS.follow_phase(ctx, schedule["subscription"], params)
        schedule["_mirrored_phase"] = phase_index

    def _finish(self, ctx: Context, schedule: StripeObject) -> None:
        ended_at = schedule["phases"][-1]["end_date"]
        if schedule["end_behavior"] == "cancel":
            SUBSCRIPTIONS.terminate(ctx, SUBSCRIPTIONS.load(ctx, schedule["subscription"]), ended_at)
            schedule.update(status="completed", completed_at=ended_at, current_phase=None)
        else:
            self._release(ctx, schedule, ended_at)

    @staticmethod
    def _release(ctx: Context, schedule: StripeObject, at: int) -> None:
        """The subscription carries on without the schedule."""
        if schedule["subscription"]:
            subscription = SUBSCRIPTIONS.load(ctx, schedule["subscription"])
            subscription["schedule"] = None
            ctx.replace(subscription)
        schedule.update(
            status="released",
            released_at=at,
            released_subscription=schedule["subscription"],
            subscription=None,
            current_phase=None,
        )

    def _load_open(self, ctx: Context, object_id: str, action: str) -> StripeObject:
        schedule = self.load(ctx, object_id)
        if schedule["status"] in TERMINAL_SCHEDULE_STATUSES:
            raise invalid(
                f"You cannot {action} a subscription schedule that is currently in the `{schedule['status']}` status.",
                "id",
            )
        return schedule

    def _from_subscription(self, ctx: Context, params: dict[str, Any]) -> StripeObject:
        """Wrap an existing subscription in a one-phase schedule covering its current period."""
        others = set(params) - {"from_subscription", "expand"}
        if others:
            raise invalid(f"You cannot set `{sorted(others)[0]}` when `from_subscription` is set.", sorted(others)[0])
        subscription = SUBSCRIPTIONS.load(ctx, params["from_subscription"], param="from_subscription")
        if subscription["schedule"] or subscription["status"] == "canceled":
            raise invalid(
                f"Subscription {subscription['id']} is canceled or already managed by a schedule.", "from_subscription"
            )
        items = SUBSCRIPTION_ITEMS.of(ctx, subscription["id"])

        def existing_discounts(discount_ids: list[str]) -> list[StripeObject]:
            return [{"coupon": None, "discount": discount_id, "promotion_code": None} for discount_id in discount_ids]

        phase_items = [
            {
                "price": item["price"]["id"],
                **({"quantity": item["quantity"]} if "quantity" in item else {}),
                "discounts": existing_discounts(item["discounts"]),
                "metadata": item["metadata"],
            }
            for item in items
        ]
        phase = self._phases(
            ctx,
            [
                {
                    "items": phase_items,
                    "end_date": max(item["current_period_end"] for item in items),
                    "discounts": existing_discounts(subscription["discounts"]),
                    "metadata": subscription["metadata"],
                }
            ],
            min(item["current_period_start"] for item in items),
            self._default_settings({}, None),
        )
        fields = self._defaults() | {
            "customer": subscription["customer"],
            "default_settings": self._default_settings({}, None),
            "phases": phase,
            "subscription": subscription["id"],
            "_mirrored_phase": 0,
        }
        schedule = self.new_object(ctx, fields, {})
        subscription["schedule"] = schedule["id"]
        ctx.replace(subscription)
        return schedule


# -- invoice items and invoices ---------------------------------------------------------------------


class InvoiceItems(Resource):
    api_class = stripe.InvoiceItem
    id_prefix = "ii_"
    list_filters = {"customer": "customer", "invoice": "invoice"}
    list_params = frozenset({"pending"})
    write_only = frozenset({"pricing", "price_data", "amount", "unit_amount_decimal", "discounts", "quantity_decimal"})

    def build(self, ctx: Context, params: dict[str, Any]) -> StripeObject:
        if not params.get("customer"):
            raise missing_param("customer")
        customer = CUSTOMERS.load(ctx, params["customer"], param="customer")
        if params.get("invoice"):
            INVOICES.require_draft(ctx, params["invoice"], "invoice")
        fields = {
            "customer_account": None,
            "date": ctx.now,
            "description": None,
            "discountable": True,
            "invoice": None,
            "parent": None,
            "period": {"start": ctx.now, "end": ctx.now},
            "proration": False,
            "tax_rates": [],
            "test_clock": None,
            **self.stored_fields(params),
            "customer": customer["id"],
            "discounts": create_discounts(ctx, params.get("discounts"), "discounts", customer["id"]),
            "quantity": params.get("quantity", 1),
            **self._pricing(ctx, params),
        }
        fields["amount"] = fields["net_amount"] = _line_amount(fields)
        return self.new_object(ctx, fields, params)

    def insert_from_phase(
        self, ctx: Context, customer: str, subscription: str | None, phase: StripeObject, line: StripeObject
    ) -> StripeObject:
        """A schedule phase's `add_invoice_items` entry as the pending invoice item Stripe adds when the phase starts:
        the phase's price (archived since or inline, as a credit may be), quantity, metadata and period."""
        price = PRICES.load(ctx, line["price"])
        period = line.get("period") or {}
        start, end = period.get("start") or {}, period.get("end") or {}
        fields = {
            "customer_account": None,
            "date": ctx.now,
            "description": None,
            "discountable": line.get("discountable", True),
            "discounts": [],
            "invoice": None,
            "parent": {
                "type": "subscription_details",
                "subscription_details": {"subscription": subscription, "subscription_item": None},
            },
            "period": {
                "start": start["timestamp"] if start.get("type") == "timestamp" else phase["start_date"],
                "end": end["timestamp"] if end.get("type") == "timestamp" else phase["end_date"],
            },
            "proration": False,
            "quantity": line.get("quantity", 1),
            "tax_rates": [],
            "test_clock": None,
            "customer": customer,
            **_priced_by(price),
            "_subscription": subscription,
        }
        fields["amount"] = fields["net_amount"] = _line_amount(fields)
        item = self.new_object(ctx, fields, {"metadata": line.get("metadata") or {}})
        ctx.insert(item)
        return item

    def apply_update(self, ctx: Context, obj: StripeObject, params: dict[str, Any]) -> None:
        self._require_editable(ctx, obj)
        super().apply_update(ctx, obj, params)
        if {"pricing", "price_data", "amount", "unit_amount_decimal"} & params.keys():
            obj.update(self._pricing(ctx, params | {"currency": params.get("currency", obj["currency"])}))
        obj["amount"] = obj["net_amount"] = _line_amount(obj)

    def check_deletable(self, ctx: Context, obj: StripeObject) -> None:
        self._require_editable(ctx, obj)

    @staticmethod
    def _require_editable(ctx: Context, obj: StripeObject) -> None:
        if obj["invoice"] and INVOICES.load(ctx, obj["invoice"])["status"] != "draft":
            raise invalid(f"Invoice item {obj['id']} is on a finalized invoice and can no longer change.", "id")

    def list_conditions(self, params: dict[str, Any]) -> list[Condition]:
        pending = params.get("pending")
        pending_conditions = [] if pending is None else [Condition("invoice", "is null" if pending else "is not null")]
        return super().list_conditions(params) + pending_conditions

    @staticmethod
    def _pricing(ctx: Context, params: dict[str, Any]) -> StripeObject:
        """`pricing[price]` / `price_data` (a one-time price), or a bare `amount` or `unit_amount_decimal`."""
        exclusive(params, "pricing", "price_data", "amount", "unit_amount_decimal")
        if params.get("amount") is None and params.get("unit_amount_decimal") is None:
            line = {"price": (params.get("pricing") or {}).get("price"), "price_data": params.get("price_data")}
            price = PRICES.resolve(ctx, line, None if params.get("price_data") else "pricing", "one_time")
            return _priced_by(price)
        if not params.get("currency"):
            raise missing_param("currency")
        unit = params.get("unit_amount_decimal") or str(Decimal(params["amount"]) / params.get("quantity", 1))
        return {"currency": params["currency"].lower(), "pricing": None, "_unit_amount_decimal": unit}


def _priced_by(price: StripeObject) -> dict[str, Any]:
    """An invoice item's currency and `pricing` when a price sets its amount."""
    return {
        "currency": price["currency"],
        "pricing": {
            "price_details": {"price": price["id"], "product": price["product"]},
            "type": "price_details",
            "unit_amount_decimal": price["unit_amount_decimal"],
        },
        "_unit_amount_decimal": price["unit_amount_decimal"],
    }


def _line_amount(item: StripeObject) -> int:
    amount = Decimal(item["_unit_amount_decimal"]) * item["quantity"]
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


class Invoices(Resource):
    api_class = stripe.Invoice
    id_prefix = "in_"
    list_filters = {
        "customer": "customer",
        "status": "status",
        "subscription": "_subscription",
        "collection_method": "collection_method",
    }
    write_only = frozenset(
        {"pending_invoice_items_behavior", "from_invoice", "subscription", "discounts", "days_until_due"}
    )
    search_fields = {
        "created": field("created", "number"),
        "currency": field("currency"),
        "customer": field("customer"),
        "number": field("number"),
        "status": field("status"),
        "subscription": SearchField("json_extract(data, '$._subscription')", "string"),
    }
    actions = {"finalize": "finalize_invoice"}

    def build(self, ctx: Context, params: dict[str, Any]) -> StripeObject:
        if not params.get("customer"):
            raise missing_param("customer")
        customer = CUSTOMERS.load(ctx, params["customer"], param="customer")
        collection_method = params.get("collection_method", "charge_automatically")
        if params.get("due_date") is None:
            check_collection_method(collection_method, params.get("days_until_due"))
        subscription = params.get("subscription")
        fields = {
            "account_country": "US",
            "account_name": "Stripe Sandbox",
            "account_tax_ids": None,
            "amount_overpaid": 0,
            "amount_paid": 0,
            "amount_paid_off_stripe": 0,
            "amount_shipping": 0,
            "application": None,
            "attempt_count": 0,
            "attempted": False,
            "auto_advance": False,
            "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None, "status": None},
            "automatically_finalizes_at": None,
            "billing_reason": "manual",
            "currency": "usd",
            "custom_fields": None,
            "customer_account": None,
            "customer_address": customer["address"],
            "customer_email": customer["email"],
            "customer_name": customer["name"],
            "customer_phone": customer["phone"],
            "customer_shipping": customer["shipping"],
            "customer_tax_exempt": customer["tax_exempt"],
            "customer_tax_ids": [],
            "default_payment_method": None,
            "default_source": None,
            "default_tax_rates": [],
            "description": None,
            "due_date": None,
            "effective_at": None,
            "ending_balance": None,
            "footer": None,
            "from_invoice": None,
            "hosted_invoice_url": None,
            "invoice_pdf": None,
            "issuer": {"type": "self"},
            "last_finalization_error": None,
            "latest_revision": None,
            "next_payment_attempt": None,
            "number": None,
            "on_behalf_of": None,
            "payment_settings": {"default_mandate": None, "payment_method_options": None, "payment_method_types": None},
            "period_end": ctx.now,
            "period_start": ctx.now,
            "post_payment_credit_notes_amount": 0,
            "pre_payment_credit_notes_amount": 0,
            "receipt_number": None,
            "rendering": None,
            "shipping_cost": None,
            "shipping_details": None,
            "starting_balance": 0,
            "statement_descriptor": None,
            "status_details": None,
            "test_clock": None,
            "threshold_reason": None,
            "total_discount_amounts": [],
            "total_pretax_credit_amounts": [],
            "total_taxes": [],
            "webhooks_delivered_at": None,
            "status_transitions": {
                "finalized_at": None,
                "marked_uncollectible_at": None,
                "paid_at": None,
                "voided_at": None,
            },
            **self.stored_fields(params),
            "collection_method": collection_method,
            "customer": customer["id"],
            "discounts": create_discounts(ctx, params.get("discounts"), "discounts", customer["id"]),
            "parent": {"type": "subscription_details", "subscription_details": {"subscription": subscription}}
            if subscription
            else None,
            "status": "draft",
            "_subscription": subscription,
            "_days_until_due": params.get("days_until_due"),
        }
        invoice = self.new_object(ctx, fields, params)
        # The pinned API version leaves pending invoice items alone unless asked to `include` them.
        if params.get("pending_invoice_items_behavior") == "include":
            pending = [Condition("customer", "=", customer["id"]), Condition("invoice", "is null")]
            if subscription:  # only that subscription's pending items (Stripe's `subscription` parameter)
                pending.append(Condition("_subscription", "=", subscription))
            for item in INVOICE_ITEMS.oldest_first(ctx, pending):
                item["invoice"] = invoice["id"]
                ctx.replace(item)
                invoice["currency"] = item["currency"]
        return invoice

    def apply_update(self, ctx: Context, obj: StripeObject, params: dict[str, Any]) -> None:
        super().apply_update(ctx, obj, params)
        if "days_until_due" in params:
            obj["_days_until_due"] = params["days_until_due"]

    def finalize_invoice(self, ctx: Context, object_id: str, params: dict[str, Any]) -> StripeObject:
        invoice = self.require_draft(ctx, object_id, "id")
        customer = CUSTOMERS.load(ctx, invoice["customer"], allow_deleted=True)
        finalized_before = ctx.store.find(
            self.object_name, [Condition("customer", "=", customer["id"]), Condition("status", "!=", "draft")]
        )
        token = secrets.token_urlsafe(24)
        invoice.update(
            number=f"{customer.get('invoice_prefix', 'SANDBOX')}-{len(finalized_before) + 1:04d}",
            hosted_invoice_url=f"https://invoice.stripe.com/i/acct_sandbox/test_{token}",
            invoice_pdf=f"https://pay.stripe.com/invoice/acct_sandbox/test_{token}/pdf",
            auto_advance=params.get("auto_advance", invoice["auto_advance"]),
        )
        if (
            invoice["collection_method"] == "send_invoice"
            and invoice["_days_until_due"] is not None
            and invoice["due_date"] is None
        ):
            invoice["due_date"] = ctx.now + invoice["_days_until_due"] * 86_400
        invoice["status_transitions"]["finalized_at"] = ctx.now
        paid = self.render(ctx, invoice)["amount_due"] == 0  # Stripe marks a zero invoice paid on finalizing
        invoice["status"] = "paid" if paid else "open"
        if paid:
            invoice["status_transitions"]["paid_at"] = ctx.now
        ctx.replace(invoice)
        return self.render(ctx, invoice)

    def require_draft(self, ctx: Context, invoice_id: str, param: str) -> StripeObject:
        invoice = self.load(ctx, invoice_id, param=None if param == "id" else param)
        if invoice["status"] != "draft":
            raise invalid(
                f"Invoice {invoice_id} is no longer a draft (status `{invoice['status']}`).",
                param,
                "invoice_not_editable",
            )
        return invoice

    def check_deletable(self, ctx: Context, obj: StripeObject) -> None:
        self.require_draft(ctx, obj["id"], "id")
        for item in ctx.store.find(INVOICE_ITEMS.object_name, [Condition("invoice", "=", obj["id"])]):
            item["invoice"] = None  # back to pending, as when Stripe deletes a draft
            ctx.replace(item)

    def render(self, ctx: Context, obj: StripeObject) -> StripeObject:
        items = INVOICE_ITEMS.oldest_first(ctx, [Condition("invoice", "=", obj["id"])])
        total = sum(item["amount"] for item in items)
        lines = [self._line(obj, item) for item in items]
        return super().render(ctx, obj) | {
            "amount_due": total,
            "amount_remaining": total - obj["amount_paid"],
            "subtotal": total,
            "subtotal_excluding_tax": total,
            "total": total,
            "total_excluding_tax": total,
            "lines": {
                "object": "list",
                "data": lines,
                "has_more": False,
                "total_count": len(lines),
                "url": f"/v1/invoices/{obj['id']}/lines",
            },
        }

    @staticmethod
    def _line(invoice: StripeObject, item: StripeObject) -> StripeObject:
        return {
            "id": "il_" + item["id"].removeprefix("ii_"),
            "object": "line_item",
            "amount": item["amount"],
            "currency": item["currency"],
            "description": item["description"],
            "discount_amounts": [],
            "discountable": item["discountable"],
            "discounts": item["discounts"],
            "invoice": invoice["id"],
            "livemode": False,
            "metadata": item["metadata"],
            "parent": {
                "type": "invoice_item_details",
                "invoice_item_details": {
                    "invoice_item": item["id"],
                    "proration": False,
                    "subscription": item.get("_subscription"),
                },
                "subscription_item_details": None,
            },
            "period": item["period"],
            "pricing": item["pricing"],
            "quantity": item["quantity"],
        }


SUBSCRIPTIONS = Subscriptions()
SUBSCRIPTION_ITEMS = SubscriptionItems()
SUBSCRIPTION_SCHEDULES = SubscriptionSchedules()
INVOICE_ITEMS = InvoiceItems()
INVOICES = Invoices()
