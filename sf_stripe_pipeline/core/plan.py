"""The diff between desired and actual Stripe state: one row per Stripe write, in dependency order.

Only what the sync owns is compared: the mapped fields and our metadata keys. Stripe-generated fields and
metadata other people add are ignored, and both sides are normalised first ("" vs None, decimal strings,
expanded objects vs ids, refs vs the ids they stand for). That is what makes a re-run a no-op. Each
operation carries a payload hash and an idempotency key derived from it, so replaying a half-applied plan
cannot create duplicates, while a changed payload never reuses an old key.

What the plan does not decide (a cancelled schedule, a started schedule that differs, a deleted customer)
becomes a `PlanningNote` for the contract instead of a guess. Every operation then passes preflight (core/
preflight.py): one Stripe would refuse becomes a note naming the rule, and every operation of its contracts is
withheld, so nothing of such a contract reaches Stripe and no drafting bug ever reaches it as a 400.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sf_stripe_pipeline.core.config import SyncConfig
from sf_stripe_pipeline.core.desired import (
    REF_KEY,
    STRIPE_DEPENDENCY_TIERS,
    STRIPE_OBJECT_TIER,
    SUBSCRIPTION_OF,
    DesiredObject,
    is_ref,
)
from sf_stripe_pipeline.core.money import normalize_decimal_string
from sf_stripe_pipeline.core.preflight import refusals

CREATE, UPDATE, ARCHIVE, CANCEL, FINALIZE = "create", "update", "archive", "cancel", "finalize"
_ARCHIVE_TIER = len(STRIPE_DEPENDENCY_TIERS)  # archive prices once the schedules using their replacements are saved
AUTO_ARCHIVE_KEY = "salesforce_auto_archive"
PRICE_BILLING_FIELDS = (
    "product", "currency", "unit_amount_decimal", "recurring", "tax_behavior", "billing_scheme", "tiers_mode", "tiers",
)  # fmt: skip
PRICE_UPDATABLE_FIELDS = ("metadata", "nickname", "lookup_key")
SCHEDULE_UPDATABLE_FIELDS = ("default_settings", "end_behavior", "metadata", "phases")
TERMINAL_SCHEDULE_STATUSES = frozenset({"canceled", "completed", "released"})
CANCELED_SUBSCRIPTION_MESSAGE = (
    "The Stripe subscription for the evergreen order has already been canceled and can't be modified."
)
SUBSCRIPTION_FIELDS = ("collection_method", "days_until_due", "metadata", "cancel_at", "cancel_at_period_end")
CANCELED_SCHEDULE_MESSAGE = "The Stripe subscription schedule has already been canceled and can't be modified."
_SCHEDULE_DEFAULTS = {"proration_behavior": "create_prorations"}
DECIMAL_FIELDS = frozenset({"unit_amount_decimal", "flat_amount_decimal", "percent_off"})
"""Decimal numbers Stripe returns in another form than we send them ("1000.000000000000", 12.5 vs "12.5")."""
FROM_SUBSCRIPTION = "from_subscription"
MIGRATED_SUBSCRIPTION_MARK = "backdate_start_date"
"""A subscription backdated to migrate an old order (F33): created once, then its schedule's."""


@dataclass(frozen=True)
class PlannedOperation:
    seq: int
    """Dependency order: customers/products before prices before schedules before archives."""
    operation: str
    """"create" | "update" | "archive" | "cancel"."""
    stripe_object: str
    key: str
    sf_object: str
    sf_id: str
    stripe_id: str | None
    """None for create; None on an archive means the object created earlier in this plan under the same key."""
    params: dict
    payload_hash: str
    idempotency_key: str
    contract_keys: tuple[str, ...]
    destructive: bool = False
    """True when it retires a Stripe object still in use (a replaced price): gated by limits.allow_destructive."""


@dataclass(frozen=True)
class PlanningNote:
    """A difference the plan leaves alone, and why; its contracts should be reported, not synced."""

    stripe_object: str
    key: str
    sf_object: str
    sf_id: str
    stripe_id: str | None
    contract_keys: tuple[str, ...]
    message: str


@dataclass(frozen=True)
class Plan:
    operations: list[PlannedOperation]
    notes: list[PlanningNote]


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def payload_hash(stripe_object: str, operation: str, params: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json([stripe_object, operation, params]).encode()).hexdigest()


def idempotency_key(
    stripe_object: str, key: str, operation: str, stripe_id: str | None, digest: str, generation: int = 0
) -> str:
    """Deterministic and at most 255 characters: what the operation means (object, Salesforce key, operation,
    target) and `digest`, the hash of its parameters. A different payload or target gives a different key.

    The plan's column holds the key of the parameters as planned, references unresolved: it identifies the
    operation in a dry run. The shell derives the key it sends from the parameters as sent, references resolved
    (`stripe/writes.py`), so a crash and a re-run send the same key with the same parameters, whether a
    reference was resolved by the run or found in Stripe. `generation` moves past a key Stripe can no longer use
    (it saved a 500 under it, or saw it with other parameters)."""
    suffix = f"-g{generation}" if generation else ""
    return f"sfsp-{stripe_object}-{operation}-{key[:80]}-{stripe_id or 'new'}-{digest[:40]}{suffix}"


class _Pending:
    """A ref to an object this plan (re)creates: its id is unknown, so it equals nothing in Stripe."""

    def __eq__(self, other: object) -> bool:
        return False

    __hash__ = None  # type: ignore[assignment]


_PENDING = _Pending()


class _Normaliser:
    def __init__(self, resolved: Mapping[str, str | None]):
        self.resolved = resolved

    def __call__(self, value: Any, field: str = "") -> Any:
        if is_ref(value):
            resolved = self.resolved.get(value[REF_KEY])
            return resolved if resolved is not None else _PENDING
        if isinstance(value, Mapping):
            if "id" in value and "object" in value:
                return value["id"]  # an expanded Stripe object stands for its id
            return {k: self(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self(item) for item in value]
        if field in DECIMAL_FIELDS and not isinstance(value, bool):
            return normalize_decimal_string(value)
        if value == "":
            return None
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value


def _owned_differs(desired: Any, actual: Any, normalise: _Normaliser, field: str = "") -> bool:
    """Does `actual` differ from `desired` in anything `desired` states? Extra actual fields are ignored."""
    if isinstance(desired, Mapping) and not is_ref(desired):
        actual = actual if isinstance(actual, Mapping) else {}
        return any(_owned_differs(value, actual.get(key), normalise, key) for key, value in desired.items())
    if isinstance(desired, list):
        actual = actual if isinstance(actual, list) else []
        return len(desired) != len(actual) or any(
            _owned_differs(d, a, normalise, field) for d, a in zip(desired, actual, strict=True)
        )
    normalised = normalise(desired, field)
    return isinstance(normalised, _Pending) or normalised != normalise(actual, field)


def _value_at(data: Mapping[str, Any] | None, path: str) -> Any:
    for segment in path.split("."):
        if not isinstance(data, Mapping):
            return None
        data = data.get(segment)
    return data


def _with_leaf(data: dict, path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for segment in parents:
        data = data.setdefault(segment, {})
    data[leaf] = value


class _Planner:
    def __init__(
        self,
        desired: Sequence[DesiredObject],
        actual: Mapping[str, dict | None],
        config: SyncConfig | None,
        now: int | None,
        unchanged: Mapping[str, str],
    ):
        self.unchanged = unchanged
        self.desired = sorted(desired, key=lambda d: (STRIPE_OBJECT_TIER[d.stripe_object], _same_tier_needs(d), d.key))
        self.actual = actual
        self.now = now
        # F14: polling accounts is there to update their customers
        self.update_customers = config.update_customers or config.account_polling if config else True
        self.update_products = config.update_products if config else True
        self.resolved: dict[str, str | None] = {}
        self.normalise = _Normaliser(self.resolved)
        self.rows: list[tuple[int, DesiredObject, str, str | None, dict, bool]] = []
        self.created: set[str] = set()
        """Addresses this plan creates."""
        self.notes: list[PlanningNote] = []
        self.unavailable: set[str] = set()
        """Addresses of objects Stripe holds as deleted: no request may name them."""
        self.unneeded: set[str] = set()
        """Contracts that need nothing in Stripe (cancelled before anything of them was created)."""
        self.held: set[str] = set()
        """Contracts with a note that must send nothing (writing the rest would leave half of them in Stripe)."""

    def run(self) -> Plan:
        for desired in self.desired:
            if desired.address in self.unchanged:  # in sync when last synced, and Salesforce is as it was then
                self.resolved[desired.address] = self.unchanged[desired.address]
                continue
            current = self.actual.get(desired.address)
            if current is None and self._never_needed(desired):
                self.unneeded.update(desired.contract_keys)
            elif current is None and self._released_unread(desired):
                self.held.update(desired.contract_keys)
                self._add_note(
                    desired,
                    desired.linked_stripe_id,
                    f"subscription ({desired.sf_object} {desired.sf_id}) began as schedule {desired.linked_stripe_id}, "
                    "whose released subscription could not be read (the schedule has not released yet?): nothing "
                    "is created in its place (F40); sync the order again once it has started",
                )
            elif current is None and FROM_SUBSCRIPTION in desired.params:
                # F33: a schedule made from a subscription takes nothing else; its phases follow in an update
                self.emit(desired, CREATE, None, {FROM_SUBSCRIPTION: desired.params[FROM_SUBSCRIPTION]})
                self.emit(desired, UPDATE, None, self._schedule_update_params(desired))
            elif current is None and _names_a_schedules_subscription(desired):
                self.plan_proration_invoice(desired)
            elif current is None:
                self.emit(desired, CREATE, None, desired.params)
                if desired.stripe_object == "invoice":
                    self.emit(desired, FINALIZE, None, {}, tier=STRIPE_OBJECT_TIER["invoice"])
                if desired.end_now is not None and self._still_running(desired):
                    # created only to be cancelled at once (its history is kept); one already over ends by itself
                    self.emit(desired, CANCEL, None, desired.end_now, tier=_ARCHIVE_TIER)
            elif current.get("deleted"):
                self.unavailable.add(desired.address)
                self.note(
                    desired,
                    current,
                    "was deleted in Stripe; a deleted object cannot be re-linked (clear "
                    "Stripe_ID__c on the Salesforce record and resync)",
                )
            else:
                self.resolved[desired.address] = current.get("id")
                getattr(self, f"plan_{desired.stripe_object}")(desired, current)
            if desired.stripe_object == "price" and self._auto_archive_due(desired, current):
                self.emit(desired, ARCHIVE, (current or {}).get("id"), {"active": False}, tier=_ARCHIVE_TIER)
        rows = self._preflight(sorted(self.rows, key=lambda r: r[0]))
        operations = [self._operation(seq, *row) for seq, row in enumerate(rows, 1)]
        return Plan(operations, self.notes)

    @staticmethod
    def _released_unread(desired: DesiredObject) -> bool:
        """F40: an evergreen order whose Stripe_ID__c still names the schedule it began as is billed by the
        subscription that schedule released; when that cannot be read, a new one would bill it twice."""
        return desired.stripe_object == "subscription" and (desired.linked_stripe_id or "").startswith("sub_sched_")

    def _never_needed(self, desired: DesiredObject) -> bool:
        """F35: a schedule whose contract was terminated from its first day has no phase to bill; one that was never
        created is not created (nor are the customer, products and prices only it would use)."""
        return desired.stripe_object == "subscription_schedule" and desired.end_now is not None and not (
            desired.params.get("phases")
        )

    def _preflight(self, rows: list[tuple[int, DesiredObject, str, str | None, dict, bool]]) -> list:
        """The rows Stripe would accept, less every row of a contract with one it would refuse (each refused row
        becomes a note naming the rule) and of contracts that need nothing in Stripe. A row shared with other
        contracts is kept while any of them stays."""
        withheld = self.unneeded | self.held
        for _, desired, operation, stripe_id, params, _ in rows:
            found = refusals(
                desired.stripe_object,
                operation,
                params,
                now=self.now,
                current=self.actual.get(desired.address) if stripe_id else None,
                unavailable=self.unavailable,
            )
            if found:
                withheld.update(desired.contract_keys)
                self._add_note(
                    desired,
                    stripe_id,
                    f"{operation} {desired.stripe_object} ({desired.sf_object} {desired.sf_id}) would be refused by "
                    "Stripe, so nothing of its contract is sent: " + "; ".join(refusal.describe() for refusal in found),
                )
        return [row for row in rows if not set(row[1].contract_keys) <= withheld]

    # -- rows --------------------------------------------------------------------------------------------------

    def emit(
        self,
        desired: DesiredObject,
        operation: str,
        stripe_id: str | None,
        params: dict,
        *,
        tier: int | None = None,
        destructive: bool = False,
    ) -> None:
        if operation == CREATE:
            self.resolved.pop(desired.address, None)  # refs to it now point at an object not yet made
            self.created.add(desired.address)
        self.rows.append(
            (
                STRIPE_OBJECT_TIER[desired.stripe_object] if tier is None else tier,
                desired,
                operation,
                stripe_id,
                params,
                destructive,
            )
        )

    def note(self, desired: DesiredObject, current: Mapping[str, Any], message: str) -> None:
        stripe_id = current.get("id")
        described = f"{desired.stripe_object} {stripe_id} ({desired.sf_object} {desired.sf_id})"
        self._add_note(desired, stripe_id, f"{described} {message}")

    def _add_note(self, desired: DesiredObject, stripe_id: str | None, message: str) -> None:
        self.notes.append(
            PlanningNote(
                desired.stripe_object,
                desired.key,
                desired.sf_object,
                desired.sf_id,
                stripe_id,
                desired.contract_keys,
                message,
            )
        )

    @staticmethod
    def _operation(
        seq: int,
        _tier: int,
        desired: DesiredObject,
        operation: str,
        stripe_id: str | None,
        params: dict,
        destructive: bool,
    ) -> PlannedOperation:
        return planned_operation(desired, operation, stripe_id, params, seq=seq, destructive=destructive)

    # -- customers and products: update only the owned fields that changed ----------------------------------

    def _changed_fields(self, desired: DesiredObject, current: Mapping[str, Any], fields: Iterable[str]) -> dict:
        changes: dict[str, Any] = {}
        cleared_by_field: dict[str, list[str]] = {}
        for path in desired.cleared_paths:
            cleared_by_field.setdefault(path.split(".")[0], []).append(path)
        for field in fields:
            wanted = desired.params.get(field)
            stale = [p for p in cleared_by_field.get(field, []) if self.normalise(_value_at(current, p)) is not None]
            if field == "metadata":
                ours = {
                    k: v
                    for k, v in (wanted or {}).items()
                    if _owned_differs(v, (current.get("metadata") or {}).get(k), self.normalise)
                }
                ours.update({p.split(".", 1)[1]: "" for p in stale if "." in p})
                if ours:
                    changes["metadata"] = ours
            elif wanted is None:
                if stale:
                    changes[field] = ""
            elif stale or _owned_differs(wanted, current.get(field), self.normalise, field):
                value = json.loads(canonical_json(wanted))  # a copy to add cleared leaves to
                for path in stale:
                    _with_leaf(value, path.split(".", 1)[1], "")
                changes[field] = value
        return changes

    def _owned_fields(self, desired: DesiredObject) -> list[str]:
        return sorted(set(desired.params) | {path.split(".")[0] for path in desired.cleared_paths})

    def plan_customer(self, desired: DesiredObject, current: Mapping[str, Any]) -> None:
        self._plan_mutable(desired, current, self.update_customers)

    def plan_product(self, desired: DesiredObject, current: Mapping[str, Any]) -> None:
        self._plan_mutable(desired, current, self.update_products)

    def _plan_mutable(self, desired: DesiredObject, current: Mapping[str, Any], update_all: bool) -> None:
        fields = self._owned_fields(desired) if update_all else ["metadata"]  # adoption back-fills metadata (F6)
        changes = self._changed_fields(desired, current, fields)
        if changes:
            self.emit(desired, UPDATE, current.get("id"), changes)

    # -- one-time orders (F26): invoice items swept into an invoice, then finalized ------------------------------

    def plan_invoice_item(self, desired: DesiredObject, current: Mapping[str, Any]) -> None:
        """Billed once: an existing invoice item is left alone."""

    def plan_invoice(self, desired: DesiredObject, current: Mapping[str, Any]) -> None:
        if current.get("status") == "draft":
            self.emit(desired, FINALIZE, current.get("id"), {})

    def plan_proration_invoice(self, desired: DesiredObject) -> None:
        """F34: the invoice of an amendment's prorations, for the subscription its schedule runs (read on the
        schedule), created and finalized after the schedule update that starts the phase billing them."""
        schedule_address = desired.params["subscription"][SUBSCRIPTION_OF]
        subscription = (self.actual.get(schedule_address) or {}).get("subscription")
        if not subscription:
            self._add_note(
                desired,
                None,
                f"invoice ({desired.sf_object} {desired.sf_id}) of the amendment's prorations is not created now: its "
                "schedule has no subscription yet (it is created in this sync or has not started), so Stripe bills "
                "them with the subscription's next invoice (F34)",
            )
            return
        self.emit(desired, CREATE, None, {**desired.params, "subscription": subscription})
        self.emit(desired, FINALIZE, None, {}, tier=STRIPE_OBJECT_TIER["invoice"])

    def plan_coupon(self, desired: DesiredObject, current: Mapping[str, Any]) -> None:
        """F44: a linked coupon is reused while its terms equal Salesforce's; otherwise a new coupon is made, never
        an update. Missing back-reference metadata is back-filled; existing keys stay (coupons are shared)."""
        terms = {key: value for key, value in desired.params.items() if key != "metadata"}
        if _owned_differs(terms, current, self.normalise):
            self.emit(desired, CREATE, None, desired.params)
            return
        present = current.get("metadata") or {}
        missing = {k: v for k, v in desired.params.get("metadata", {}).items() if present.get(k) in (None, "")}
        if missing:
            self.emit(desired, UPDATE, current.get("id"), {"metadata": missing})

    # -- prices: immutable amounts (F21) -----------------------------------------------------------------------

    def plan_price(self, desired: DesiredObject, current: Mapping[str, Any]) -> None:
        billing = {field: desired.params.get(field) for field in PRICE_BILLING_FIELDS}
        billing.setdefault("billing_scheme", "per_unit")
        billing["billing_scheme"] = billing["billing_scheme"] or "per_unit"
        if billing["tiers"] is not None:
            # Stripe returns tiers only when expanded: compared when the read has them, in the shape returned
            billing["tiers"] = _tiers_as_returned(billing["tiers"]) if current.get("tiers") is not None else None
        if _owned_differs({k: v for k, v in billing.items() if v is not None}, current, self.normalise):
            self.emit(desired, CREATE, None, desired.params)
            if current.get("active", True):
                self.emit(desired, ARCHIVE, current.get("id"), {"active": False}, tier=_ARCHIVE_TIER, destructive=True)
            return
        changes = self._changed_fields(desired, current, [f for f in PRICE_UPDATABLE_FIELDS if f in desired.params])
        if not current.get("active", True) and not _is_auto_archived(desired):
            changes["active"] = True  # a price book price archived by hand is needed again
        if changes:
            self.emit(desired, UPDATE, current.get("id"), changes)

    def _auto_archive_due(self, desired: DesiredObject, current: Mapping[str, Any] | None) -> bool:
        """F21: order-line prices are archived once their schedule is saved (so no new order picks them up)."""
        if not _is_auto_archived(desired):
            return False
        active = bool(current and current.get("active", True) and not current.get("deleted"))
        return desired.address in self.created or active

    # -- subscription schedules (F22, F30, F35, F37) -----------------------------------------------------------

    def plan_subscription_schedule(self, desired: DesiredObject, current: Mapping[str, Any]) -> None:
        status = current.get("status")
        if desired.end_now is not None:
            if status not in TERMINAL_SCHEDULE_STATUSES:
                self.emit(desired, CANCEL, current.get("id"), desired.end_now)
            return
        if status in TERMINAL_SCHEDULE_STATUSES:
            if any(phase["end_date"] > self._now(current) for phase in desired.params["phases"]):
                self.note(desired, current, f"is {status}: {CANCELED_SCHEDULE_MESSAGE}")
            return
        if _owned_differs({"customer": desired.params.get("customer")}, current, self.normalise):
            self.note(desired, current, "belongs to another customer; a schedule's customer cannot change")
            return
        if status == "not_started":
            phases = self._unstarted_phases(desired, current)
        else:
            phases = self._running_phases(desired, current)
        if phases is None:
            return
        params = {field: desired.params[field] for field in SCHEDULE_UPDATABLE_FIELDS if field in desired.params}
        params.update(phases=phases, proration_behavior="none")
        self.emit(desired, UPDATE, current.get("id"), params)

    @staticmethod
    def _schedule_update_params(desired: DesiredObject) -> dict:
        """A whole schedule as an update: its fields and phases, the first phase starting at its start date."""
        params = {field: desired.params[field] for field in SCHEDULE_UPDATABLE_FIELDS if field in desired.params}
        first, *later = desired.params["phases"]
        params.update(phases=[{**first, "start_date": desired.params["start_date"]}, *later], proration_behavior="none")
        return params

    # -- evergreen subscriptions (F39, F40) ---------------------------------------------------------------------

    def plan_subscription(self, desired: DesiredObject, current: Mapping[str, Any]) -> None:
        if MIGRATED_SUBSCRIPTION_MARK in desired.params:
            return  # F33: made only to hand to its schedule, which bills it from then on
        canceled = current.get("status") in ("canceled", "incomplete_expired")
        if desired.end_now is not None:
            if not canceled:
                self.emit(desired, CANCEL, current.get("id"), desired.end_now)
            return
        wanted = {field: desired.params[field] for field in SUBSCRIPTION_FIELDS if field in desired.params}
        items = (current.get("items") or {}).get("data", [])
        items_differ = _owned_differs(desired.params["items"], items, self.normalise)
        if not items_differ and not _owned_differs(wanted, current, self.normalise):
            return
        if canceled:
            self.note(desired, current, CANCELED_SUBSCRIPTION_MESSAGE)
            return
        params: dict[str, Any] = {**wanted, "proration_behavior": "none"}
        if items_differ:
            params["items"] = self._subscription_item_changes(desired.params["items"], items)
        self.emit(desired, UPDATE, current.get("id"), params)

    def _subscription_item_changes(self, wanted: list[dict], items: list[Mapping[str, Any]]) -> list[dict]:
        """Subscription `items` update entries: keep (by price) and adjust, add, or delete (F40 additions)."""
        by_price = {self.normalise(item.get("price")): item for item in items}
        changes = []
        for entry in wanted:
            price = self.normalise(entry["price"])
            existing = None if isinstance(price, _Pending) else by_price.pop(price, None)
            if existing is None:
                changes.append(entry)
            else:
                changes.append({"id": existing["id"], **{k: v for k, v in entry.items() if k != "price"}})
        changes += [{"id": item["id"], "deleted": True} for item in by_price.values()]
        return changes

    def _still_running(self, desired: DesiredObject) -> bool:
        phases = desired.params.get("phases")
        return not phases or self.now is None or phases[-1]["end_date"] > self.now

    def _now(self, current: Mapping[str, Any]) -> int:
        if self.now is not None:
            return self.now
        return (current.get("current_phase") or {}).get("start_date") or 0

    def _unstarted_phases(self, desired: DesiredObject, current: Mapping[str, Any]) -> list[dict] | None:
        comparable = _schedule_as_returned(desired.params)
        if not _owned_differs(comparable, current, self.normalise) and not self._cleared_stale(desired, current):
            return None
        phases = json.loads(canonical_json(desired.params["phases"]))
        phases[0]["start_date"] = desired.params["start_date"]
        return phases

    def _running_phases(self, desired: DesiredObject, current: Mapping[str, Any]) -> list[dict] | None:
        """A started schedule's update: ended phases left out, the current phase keeping its original start.
        When Salesforce starts a new phase after the current one began (an amendment effective today or backdated),
        the current phase is split `now`, keeping what Salesforce says applied before it; the phase that is already
        current has its one-time items cleared, as they were billed when it began (F30, F37)."""
        now = self._now(current)
        current_start = current["current_phase"]["start_date"]
        phases = [{**_SCHEDULE_DEFAULTS, **phase} for phase in desired.params["phases"]]
        comparable = _phases_as_returned(desired.params["phases"])
        starts = [desired.params["start_date"], *(phase["end_date"] for phase in phases[:-1])]
        live = [index for index, phase in enumerate(phases) if phase["end_date"] > now]
        if not live:
            return None  # Salesforce's schedule is over; Stripe ends it on its own
        first = live[0]
        later = [phases[index] for index in live[1:]]
        if starts[first] <= current_start:
            head = {key: value for key, value in phases[first].items() if key != "add_invoice_items"}
            actual_live = [phase for phase in current.get("phases", []) if phase["end_date"] > now]
            schedule_level = {k: v for k, v in desired.params.items() if k in SCHEDULE_UPDATABLE_FIELDS and k != "phases"}
            # How the current phase began (its one-time items, its proration) is history: not compared.
            began = {key: value for key, value in head.items() if key != "proration_behavior"}
            unchanged = not _owned_differs(schedule_level, current, self.normalise) and not _owned_differs(
                [began, *(comparable[index] for index in live[1:])], actual_live, self.normalise
            )
            if unchanged and not self._cleared_stale(desired, current):
                return None
            return [{**head, "start_date": current_start, "add_invoice_items": []}, *later]
        if first == 0:
            self.note(desired, current, "started before the start date Salesforce now gives it; it cannot move back")
            return None
        split_at: int | str = "now" if starts[first] <= now else starts[first]
        kept = {key: value for key, value in phases[first - 1].items() if key != "add_invoice_items"}
        return [
            {**kept, "start_date": current_start, "end_date": split_at, "add_invoice_items": []},
            {**phases[first], "start_date": split_at},
            *later,
        ]

    def _cleared_stale(self, desired: DesiredObject, current: Mapping[str, Any]) -> bool:
        return any(self.normalise(_value_at(current, path)) is not None for path in desired.cleared_paths)


def _names_a_schedules_subscription(desired: DesiredObject) -> bool:
    subscription = desired.params.get("subscription")
    return isinstance(subscription, Mapping) and SUBSCRIPTION_OF in subscription


def _same_tier_needs(desired: DesiredObject) -> int:
    """How many objects of its own tier `desired` names (a schedule made from a subscription, F33): it comes after."""
    tier = STRIPE_OBJECT_TIER[desired.stripe_object]
    # Non-Stripe dependencies (a coupon snapshot in Salesforce) have no tier.
    return sum(1 for address in desired.depends_on if STRIPE_OBJECT_TIER.get(address.split(":", 1)[0]) == tier)


def _tiers_as_returned(tiers: Sequence[Mapping[str, Any]]) -> list[dict]:
    """F19 tiers as Stripe returns them: `up_to` null for the unbounded tier, both amounts present (null if unset)."""
    return [
        {
            "up_to": None if tier["up_to"] == "inf" else tier["up_to"],
            "unit_amount_decimal": tier.get("unit_amount_decimal"),
            "flat_amount_decimal": tier.get("flat_amount_decimal"),
        }
        for tier in tiers
    ]


def _is_auto_archived(desired: DesiredObject) -> bool:
    return (desired.params.get("metadata") or {}).get(AUTO_ARCHIVE_KEY) == "true"


def _phases_as_returned(phases: Sequence[Mapping[str, Any]]) -> list[dict]:
    """Phases as Stripe returns them: with Stripe's default proration_behavior, and an inline one-time price
    (`price_data`, an F36 credit) standing as the price Stripe made of it, which a read cannot compare: the credit's
    other fields (quantity, period, metadata naming its line) are compared."""
    return [
        {
            **_SCHEDULE_DEFAULTS,
            **phase,
            **(
                {"add_invoice_items": [_without_price_data(item) for item in phase["add_invoice_items"]]}
                if "add_invoice_items" in phase
                else {}
            ),
        }
        for phase in phases
    ]


def _without_price_data(item: Mapping[str, Any]) -> dict:
    return {key: value for key, value in item.items() if key != "price_data"}


def _schedule_as_returned(params: Mapping[str, Any]) -> dict:
    """Schedule create params in the shape Stripe returns them: the start date lives on the first phase, and
    a phase without proration_behavior reads back with Stripe's default."""
    comparable = {key: value for key, value in params.items() if key not in ("start_date", FROM_SUBSCRIPTION)}
    phases = _phases_as_returned(params.get("phases", []))
    if phases and "start_date" in params:
        phases[0]["start_date"] = params["start_date"]
    comparable["phases"] = phases
    return comparable


def build_plan(
    desired: Sequence[DesiredObject],
    actual: Mapping[str, dict | None],
    *,
    config: SyncConfig | None = None,
    now: int | None = None,
    unchanged: Mapping[str, str] | None = None,
) -> Plan:
    """Operations and notes. `actual`: "stripe_object:key" -> the current Stripe object (Stripe's JSON) or None.
    `now` (Unix seconds, the clock Stripe runs on) decides which schedule phases have ended; without it, a started
    schedule's current phase start stands in for it. `unchanged`: address -> Stripe id of objects left unread
    because their contracts are as they were when last in sync (core/unchanged.py): nothing is planned for them."""
    return _Planner(desired, actual, config, now, unchanged or {}).run()


def plan_operations(
    desired: Sequence[DesiredObject],
    actual: Mapping[str, dict | None],
    *,
    config: SyncConfig | None = None,
    now: int | None = None,
) -> list[PlannedOperation]:
    """The operations of build_plan (see it for the notes on what is left alone)."""
    return build_plan(desired, actual, config=config, now=now).operations


def planned_operation(
    desired: DesiredObject,
    operation: str,
    stripe_id: str | None,
    params: dict,
    *,
    seq: int = 0,
    destructive: bool = False,
) -> PlannedOperation:
    """One request about `desired`, with its payload hash and the idempotency key derived from them."""
    digest = payload_hash(desired.stripe_object, operation, params)
    return PlannedOperation(
        seq=seq,
        operation=operation,
        stripe_object=desired.stripe_object,
        key=desired.key,
        sf_object=desired.sf_object,
        sf_id=desired.sf_id,
        stripe_id=stripe_id,
        params=params,
        payload_hash=digest,
        idempotency_key=idempotency_key(desired.stripe_object, desired.key, operation, stripe_id, digest),
        contract_keys=desired.contract_keys,
        destructive=destructive,
    )
