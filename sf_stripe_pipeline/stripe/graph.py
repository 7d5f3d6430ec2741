"""The order a plan's operations may run in: which operation waits for which, and which must have succeeded.

The planner numbers operations in dependency tiers (`seq`); running them one at a time in that order is always
correct but slow (one request at a time, about 5 a second at Stripe's latency). Most operations are independent:
two customers' schedules, two products' prices. The graph keeps only the real constraints:

- an operation waits for the earlier operations on every object its parameters reference (a schedule waits for
  its customer, prices and coupons) and on its own object (a create before its finalize, cancel or archive);
- an archive waits for every operation that references what it archives, and runs only if they all succeeded:
  a line price stays active while the schedule that needs it has not been saved (issue 12.2);
- an invoice waits for its contract's invoice items and needs them all: it sweeps in the pending items, so an
  invoice without one of them would bill the order short.

Operations also run in lanes: the writes to one customer and everything billed to it (schedules, subscriptions,
invoice items, invoices) go one at a time, in `seq` order, so Stripe never sees two concurrent writes to one
customer (`lock_timeout`); every other object is its own lane. Every dependency points at a lower `seq`, so the
lowest unfinished operation can always run: no deadlock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sf_stripe_pipeline.core import PlannedOperation
from sf_stripe_pipeline.core.desired import refs_in
from sf_stripe_pipeline.stripe.objects import object_ref

ARCHIVE, CREATE = "archive", "create"


@dataclass
class Constraints:
    after: set[int] = field(default_factory=set)
    """`seq`s that must have finished (in any state) first."""
    must_succeed: set[int] = field(default_factory=set)
    """Of those, the ones that must have succeeded, or this operation is skipped."""


def address(operation: PlannedOperation) -> str:
    return object_ref(operation.stripe_object, operation.key)


def constraints(operations: Sequence[PlannedOperation]) -> dict[int, Constraints]:
    by_address: dict[str, list[PlannedOperation]] = {}
    referencing: dict[str, list[PlannedOperation]] = {}
    invoice_items: dict[str, set[int]] = {}
    refs = {op.seq: set(refs_in(op.params)) for op in operations}
    for op in operations:
        by_address.setdefault(address(op), []).append(op)
        for ref in refs[op.seq]:
            referencing.setdefault(ref, []).append(op)
        if op.stripe_object == "invoice_item":
            for contract_key in op.contract_keys:
                invoice_items.setdefault(contract_key, set()).add(op.seq)
    result: dict[int, Constraints] = {}
    for op in operations:
        found = Constraints()
        for ref in refs[op.seq] | {address(op)}:
            found.after |= {other.seq for other in by_address.get(ref, []) if other.seq < op.seq}
        if op.operation == ARCHIVE:
            users = {other.seq for other in referencing.get(address(op), []) if other.seq != op.seq}
            found.after |= users
            found.must_succeed |= users
        if op.stripe_object == "invoice" and op.operation == CREATE:
            items = {seq for contract_key in op.contract_keys for seq in invoice_items.get(contract_key, ())}
            found.after |= items
            found.must_succeed |= items
        result[op.seq] = found
    return result


def lane(operation: PlannedOperation, lanes: Mapping[str, str]) -> str:
    """The lane of an operation: its customer's for objects billed to one, else its own object's."""
    return lanes.get(address(operation), address(operation))
