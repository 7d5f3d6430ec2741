"""Drift: Stripe objects the pipeline owns that no longer are what it wants, most often because someone edited,
archived or deleted them by hand in the Stripe Dashboard.

"Drifted" means exactly "the next sync of its contract would write it, or would report it and write nothing": the
desired objects of every synced contract are planned against the Stripe objects they own with the planner's own
diff (core/plan.py), and every owned object the plan touches, or leaves alone with a note, is drifted. Objects the
pipeline does not own yet (never synced, so nothing in Stripe stands for them) are not drift, though a sync would
create them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sf_stripe_pipeline.core.config import SyncConfig
from sf_stripe_pipeline.core.desired import DesiredObject
from sf_stripe_pipeline.core.plan import PlannedOperation, build_plan

CHANGED, ARCHIVED, ENDED, DELETED = "changed", "archived", "ended", "deleted"
ENDED_STATUSES = frozenset({"canceled", "completed", "released", "incomplete_expired"})
BOOKKEEPING_PARAMS = frozenset({"proration_behavior"})
"""Parameters an update sends to say how to write, not what: never a field that differs."""


@dataclass(frozen=True)
class DriftedObject:
    stripe_object: str
    stripe_id: str
    key: str
    """The desired object's key (its Salesforce key)."""
    sf_object: str
    sf_id: str
    contract_keys: tuple[str, ...]
    """The contracts using it; a contract's key is its initial Order's Id."""
    kind: str
    """`changed`, `archived` (a price or product made inactive), `ended` (a schedule or subscription cancelled,
    released or completed in Stripe before Salesforce ends it) or `deleted` (gone from Stripe, or deleted there)."""
    fields: tuple[str, ...]
    """What the next sync would write (`metadata.<key>` for metadata): for customers, products and prices exactly
    the fields that differ; a schedule or subscription update rewrites its phases or items whole."""
    operations: tuple[str, ...]
    """The next sync's operations on it (`update`, `create`, `cancel`...); none when it would only report it."""
    message: str
    """The planner's note when the next sync would report it instead of writing it."""

    @property
    def writes(self) -> bool:
        return bool(self.operations)


def written_fields(operation: PlannedOperation) -> list[str]:
    fields = []
    for name, value in operation.params.items():
        if name in BOOKKEEPING_PARAMS:
            continue
        if name == "metadata" and isinstance(value, Mapping):
            fields.extend(f"metadata.{key}" for key in value)
        else:
            fields.append(name)
    return fields


def _kind(body: Mapping[str, Any] | None, operations: Sequence[PlannedOperation]) -> str:
    if body is None or body.get("deleted"):
        return DELETED
    if body.get("active") is False and any(op.params.get("active") is True for op in operations):
        return ARCHIVED
    if body.get("status") in ENDED_STATUSES:
        return ENDED
    return CHANGED


def find_drift(
    desired: Sequence[DesiredObject],
    actual: Mapping[str, dict[str, Any] | None],
    owned: Mapping[str, str],
    *,
    config: SyncConfig | None,
    now: int | None,
) -> list[DriftedObject]:
    """The owned objects the next sync would write or report, in dependency order.

    `actual`: desired address ("stripe_object:key") -> the Stripe object as read (None: gone), as for `build_plan`;
    `owned`: desired address -> the Stripe id of the object the pipeline owns for it (by its ledger, the id written
    back on the Salesforce record, or its `salesforce_sync_key` metadata). Addresses not in `owned` are not drift."""
    plan = build_plan(desired, actual, config=config, now=now)
    operations: dict[str, list[PlannedOperation]] = {}
    for operation in plan.operations:
        operations.setdefault(f"{operation.stripe_object}:{operation.key}", []).append(operation)
    notes: dict[str, list[str]] = {}
    for note in plan.notes:
        notes.setdefault(f"{note.stripe_object}:{note.key}", []).append(note.message)

    drifted = []
    for wanted in desired:
        address = wanted.address
        if address not in owned or (address not in operations and address not in notes):
            continue
        ops = operations.get(address, [])
        fields = dict.fromkeys(field for op in ops if op.stripe_id is not None for field in written_fields(op))
        drifted.append(
            DriftedObject(
                stripe_object=wanted.stripe_object,
                stripe_id=owned[address],
                key=wanted.key,
                sf_object=wanted.sf_object,
                sf_id=wanted.sf_id,
                contract_keys=wanted.contract_keys,
                kind=_kind(actual.get(address), ops),
                fields=tuple(fields),
                operations=tuple(op.operation for op in ops),
                message="; ".join(notes.get(address, [])),
            )
        )
    return drifted


def orders_to_requeue(drifted: Iterable[DriftedObject]) -> list[str]:
    """The orders whose manual sync rewrites every drifted object the next sync would write: one contract per
    object (its first), reusing a contract already chosen for another object. A contract is named by its initial
    Order's Id, which `manual_sync_job` takes. Objects the sync would only report are not re-queued: syncing
    again would report them again."""
    chosen: dict[str, None] = {}
    for found in drifted:
        if found.writes and found.contract_keys and not chosen.keys() & set(found.contract_keys):
            chosen[found.contract_keys[0]] = None
    return sorted(chosen)
