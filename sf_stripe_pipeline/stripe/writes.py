"""Executing a plan against Stripe: concurrently, paced, retried, and safe to repeat after a crash.

What to write comes from the pure planner (`core/plan.py`). Here the shell:
- runs independent operations concurrently on a thread pool, in the order `graph.py` derives from the plan's
  references (one lane per customer, archives after what uses them);
- resolves references (`{"$ref": "customer:001…"}`) to Stripe ids just before sending, stamps every create with
  its `salesforce_sync_key` (lookup.py), and sends each request with an idempotency key derived from what it means
  and its parameters as sent, so a re-run after a crash sends the same key with the same parameters;
- records through a `Journal` the intent before each request and the outcome as each completes (the apply step
  keeps both in DuckDB, so a crash at any point loses nothing), on the calling thread only: DuckDB has one writer;
- retries transient failures and recovers from the ones a retry cannot fix (retry.py): before re-creating what an
  earlier attempt may have created, and after a saved 500 or a key conflict, it looks the object up by its sync
  key and adopts it; only if it does not exist does it send again, with a new key.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Protocol

import stripe

from sf_stripe_pipeline import clock
from sf_stripe_pipeline.core import PlannedOperation
from sf_stripe_pipeline.core.desired import replace_refs
from sf_stripe_pipeline.core.plan import FROM_SUBSCRIPTION, idempotency_key, payload_hash
from sf_stripe_pipeline.stripe import graph
from sf_stripe_pipeline.stripe.lookup import find_created, with_sync_key
from sf_stripe_pipeline.stripe.objects import object_label, service
from sf_stripe_pipeline.stripe.retry import RetryBudget, RetryingReader, Verdict, backoff_seconds, classify, one_line

SUCCESS, REJECTED, FAILED, SKIPPED = "success", "rejected", "failed", "skipped"
"""Outcome statuses: done; refused by Stripe (the data must change); not done (transient failures outlasted
the attempts or the retry budget, or the run stopped); not attempted (something it needs did not succeed)."""
SENT = "sent"
"""Journal state of an intent whose outcome is not known yet (the request may have reached Stripe)."""
CREATE, CANCEL, FINALIZE = "create", "cancel", "finalize"
ENDED_STATUSES = {
    "subscription_schedule": frozenset({"canceled", "released", "completed"}),
    "subscription": frozenset({"canceled", "incomplete_expired"}),
}


@dataclass(frozen=True)
class OperationOutcome:
    operation: PlannedOperation
    status: str
    """SUCCESS, REJECTED, FAILED or SKIPPED."""
    stripe_id: str | None
    message: str
    request_id: str | None
    payment_link: str | None = None
    """A finalized invoice's hosted_invoice_url (F26: written to Order.Stripe_Invoice_Payment_Link__c)."""
    idempotency_key: str | None = None
    """The key of the last request sent for it (None: nothing was sent)."""
    payload_hash: str | None = None
    """Hash of its parameters as sent: a rejected request is not sent again while they are the same."""
    generation: int = 0
    adopted: bool = False
    """Found in Stripe (made by an earlier attempt) instead of created or changed by this one."""


@dataclass(frozen=True)
class Attempt:
    """An operation ready to send: its target, parameters as sent, and where to start looking if it ran before."""

    operation: PlannedOperation
    stripe_id: str | None
    params: dict[str, Any]
    payload_hash: str
    generation: int
    started_at: int
    """Unix seconds (Stripe's clock) when this run first tried it."""
    look_up_since: int | None = None
    """When an earlier attempt that may have reached Stripe was made: look the object up before creating it."""

    @property
    def first_sent_at(self) -> int:
        """The earliest attempt that may have reached Stripe, this run's or an earlier one's."""
        return min(self.started_at, self.look_up_since or self.started_at)

    def key(self, generation: int | None = None) -> str:
        op = self.operation
        chosen = self.generation if generation is None else generation
        return idempotency_key(op.stripe_object, op.key, op.operation, self.stripe_id, self.payload_hash, chosen)


@dataclass(frozen=True)
class PriorAttempt:
    """What the journal holds about the last attempt of an operation (same object, key and operation)."""

    state: str
    """SENT, SUCCESS, REJECTED or FAILED."""
    target_id: str | None
    """The object it changed (None for a create)."""
    payload_hash: str | None
    generation: int
    sent_at: int
    """Unix seconds (Stripe's clock) of the earliest attempt whose outcome is not known."""
    message: str | None


class Journal(Protocol):
    """Where the executor records intents and outcomes; called on the executing thread only."""

    def prior_attempts(self) -> Mapping[tuple[str, str, str], PriorAttempt]:
        """(stripe object, key, operation) -> the last attempt recorded for it."""
        ...

    def record(self, settled: Sequence[tuple[OperationOutcome, str | None]], sending: Sequence[Attempt]) -> None:
        """Durably, at once: the outcomes just known (with the id of the object each targeted) and the intents
        of the attempts about to be sent. Called before those requests leave."""
        ...


@dataclass(frozen=True)
class ExecutionSettings:
    concurrency: int = 1
    max_attempts: int = 6
    retry_budget_seconds: float = 120.0


@dataclass
class Execution:
    outcomes: list[OperationOutcome]
    stopped: str | None = None
    """Why the run stopped before every operation was tried (retry budget spent, Stripe refused the key)."""


class UnresolvedReference(LookupError):
    pass


def resolve_refs(value: Any, ids: Mapping[str, str]) -> Any:
    """Replace every `{"$ref": "object:key"}` in `value` by the referenced object's Stripe id."""

    def stripe_id(address: str) -> str:
        try:
            return ids[address]
        except KeyError:
            raise UnresolvedReference(address) from None

    return replace_refs(value, stripe_id)


def _call(
    client: stripe.StripeClient, attempt: Attempt, key: str, network_retries: int | None
) -> Any:
    operation = attempt.operation
    target = service(client, operation.stripe_object)
    options: stripe.RequestOptions = {"idempotency_key": key}
    if network_retries is not None:
        options["max_network_retries"] = network_retries
    if operation.operation == CREATE:
        return target.create(params=attempt.params, options=options)
    if operation.operation in ("update", "archive"):
        return target.update(attempt.stripe_id, params=attempt.params, options=options)
    if operation.operation == CANCEL:
        return target.cancel(attempt.stripe_id, params=attempt.params, options=options)
    if operation.operation == FINALIZE:
        return target.finalize_invoice(attempt.stripe_id, params=attempt.params, options=options)
    raise ValueError(f"Unknown operation {operation.operation!r} for {operation.stripe_object} {operation.key}")


def _describe(operation: PlannedOperation, stripe_id: str, adopted: bool = False) -> str:
    verb = {
        "create": "Created",
        "update": "Updated",
        "archive": "Archived",
        "cancel": "Canceled",
        "finalize": "Finalized",
    }[operation.operation]
    label = object_label(operation.stripe_object)
    if adopted and operation.operation == CREATE:
        return f"Adopted Stripe {label} with Id: {stripe_id} (created by an earlier attempt)"
    return f"{verb} Stripe {label} with Id: {stripe_id}" + (" (done by an earlier attempt)" if adopted else "")


def _request_id(result: Any) -> str | None:
    response = getattr(result, "last_response", None)
    return response.request_id if response else None


class _PlanRun:
    """One execution: the scheduling (on the calling thread) and the requests (on the pool)."""

    def __init__(
        self,
        client: stripe.StripeClient,
        operations: Sequence[PlannedOperation],
        known_ids: Mapping[str, str],
        journal: Journal | None,
        settings: ExecutionSettings,
        lanes: Mapping[str, str],
    ):
        self.client = client
        self.journal = journal
        self.settings = settings
        self.ids = dict(known_ids)
        self.ops = {op.seq: op for op in operations}
        self.constraints = graph.constraints(operations)
        self.dependents: dict[int, list[int]] = {}
        self.waiting = {seq: len(found.after) for seq, found in self.constraints.items()}
        for seq, found in self.constraints.items():
            for before in found.after:
                self.dependents.setdefault(before, []).append(seq)
        self.lanes: dict[str, deque[int]] = {}
        self.lane_of: dict[int, str] = {}
        for op in sorted(operations, key=lambda op: op.seq):
            name = graph.lane(op, lanes)
            self.lanes.setdefault(name, deque()).append(op.seq)
            self.lane_of[op.seq] = name
        self.busy: set[str] = set()
        self.candidates: set[str] = set(self.lanes)
        """Lanes whose head may have become ready."""
        self.ready_lanes: list[tuple[int, str]] = []
        """Heap of lanes whose head is ready, longest lane first."""
        self.queued: set[str] = set()
        self.outcomes: dict[int, OperationOutcome] = {}
        self.unrecorded: list[tuple[OperationOutcome, str | None]] = []
        self.prior = journal.prior_attempts() if journal else {}
        self.budget = RetryBudget(settings.retry_budget_seconds)
        self.reader = RetryingReader(client, self.budget, settings.max_attempts)
        self.fatal: str | None = None
        self.last_transient: str | None = None

    # -- scheduling (calling thread) -------------------------------------------------------------------------

    def run(self) -> Execution:
        in_flight: dict[Future[OperationOutcome], int] = {}
        pool = ThreadPoolExecutor(max_workers=self.settings.concurrency, thread_name_prefix="stripe-apply")
        try:
            while True:
                attempts = self._ready(self.settings.concurrency - len(in_flight))
                self._record(attempts)
                if attempts:
                    for attempt in attempts:
                        in_flight[pool.submit(self._perform, attempt)] = attempt.operation.seq
                if not in_flight:
                    break
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    seq = in_flight.pop(future)
                    self.busy.discard(self.lane_of[seq])
                    self.candidates.add(self.lane_of[seq])
                    self._settle(future.result())
        except BaseException:
            self.budget.stop.set()  # a stopping run: retries and waits end at once
            pool.shutdown(wait=False, cancel_futures=True)
            self._record([])  # what is known is kept; requests still in flight stay `sent` intents
            raise
        pool.shutdown(wait=True)
        stopped = self._stop_reason()
        for seq in sorted(seq for queue in self.lanes.values() for seq in queue):
            self._settle(self._not_attempted(self.ops[seq], stopped or "it could not be ordered after its dependencies"))
        self._record([])
        return Execution([self.outcomes[seq] for seq in sorted(self.outcomes)], stopped)

    def _record(self, sending: Sequence[Attempt]) -> None:
        if self.journal and (self.unrecorded or sending):
            self.journal.record(self.unrecorded, sending)
        self.unrecorded = []

    def _stop_reason(self) -> str | None:
        if self.fatal:
            return f"Stripe refused the run's credentials: {self.fatal}"
        if self.budget.spent:
            return (
                f"Stripe answered only transient failures for {self.budget.seconds:g} s (stripe.retry_budget_seconds);"
                f" last: {self.last_transient or 'unknown'}"
            )
        return None

    def _ready(self, slots: int) -> list[Attempt]:
        """Up to `slots` lane heads that may start now, the longest lanes first (they decide when the run ends);
        heads that need not be sent are settled on the way."""
        attempts: list[Attempt] = []
        while len(attempts) < slots and not self._stop_reason():
            for name in self.candidates - self.queued:
                queue = self.lanes.get(name)
                if queue and name not in self.busy and not self.waiting[queue[0]]:
                    heapq.heappush(self.ready_lanes, (-len(queue), name))
                    self.queued.add(name)
            self.candidates = set()
            if not self.ready_lanes:
                break
            _, name = heapq.heappop(self.ready_lanes)
            self.queued.discard(name)
            queue = self.lanes[name]
            seq = queue.popleft()
            if not queue:
                del self.lanes[name]
            prepared = self._prepare(self.ops[seq])
            if isinstance(prepared, OperationOutcome):
                self._settle(prepared)
                self.candidates.add(name)
            else:
                self.busy.add(name)
                attempts.append(prepared)
        return attempts

    def _settle(self, outcome: OperationOutcome) -> None:
        op = outcome.operation
        self.outcomes[op.seq] = outcome
        target = op.stripe_id or self.ids.get(graph.address(op))
        if outcome.status == SUCCESS and op.operation == CREATE and outcome.stripe_id:
            self.ids[graph.address(op)] = outcome.stripe_id  # an archive retires the old object: the key keeps its new one
        self.unrecorded.append((outcome, target))
        for dependent in self.dependents.get(op.seq, ()):
            self.waiting[dependent] -= 1
            if not self.waiting[dependent]:
                self.candidates.add(self.lane_of[dependent])

    def _prepare(self, op: PlannedOperation) -> Attempt | OperationOutcome:
        found = self.constraints[op.seq]
        unmet = sorted(seq for seq in found.must_succeed if self.outcomes[seq].status != SUCCESS)
        if unmet:
            blocker = self.ops[unmet[0]]
            what = f"{blocker.operation} of {graph.address(blocker)} ({self.outcomes[unmet[0]].status})"
            kept = "kept as it is" if op.operation != "archive" else "kept active"
            message = f"Skipped: {what} did not succeed, so this {op.operation} did not run; the object is {kept}."
            return OperationOutcome(op, SKIPPED, op.stripe_id, message, None)
        address = graph.address(op)
        # An archive without a Stripe id retires the object this plan created under the same key (a line price,
        # once its schedule is saved).
        stripe_id = op.stripe_id or self.ids.get(address)
        try:
            params = resolve_refs(op.params, self.ids)
            if op.operation != CREATE and stripe_id is None:
                raise UnresolvedReference(address)
        except UnresolvedReference as missing:
            message = f"Skipped: {missing.args[0]} was not synced, so this {op.operation} could not run."
            return OperationOutcome(op, SKIPPED, stripe_id, message, None)
        if _carries_sync_key(op):
            params = with_sync_key(params, op.stripe_object, op.key)
        digest = payload_hash(op.stripe_object, op.operation, params)
        prior = self.prior.get((op.stripe_object, op.key, op.operation))
        same_request = prior is not None and prior.payload_hash == digest and (
            op.operation == CREATE or prior.target_id == stripe_id
        )
        # What it references changed in Stripe this run (a price reactivated, a coupon made again): Stripe may
        # answer differently now, so it is sent even with the parameters it refused before.
        dependencies_changed = any(self.outcomes[seq].status == SUCCESS for seq in found.after)
        if prior is not None and same_request and prior.state == REJECTED and not dependencies_changed:
            message = (
                f"{prior.message} (not sent again: Stripe refused these same parameters before; it is retried once "
                "the Salesforce record changes)"
            )
            return OperationOutcome(op, REJECTED, stripe_id, message, None, payload_hash=digest)
        generation = 0
        if prior is not None and same_request:
            # A key that succeeded before must not replay that old answer (the object is gone again).
            generation = prior.generation + (1 if prior.state == SUCCESS else 0)
        may_exist = prior is not None and prior.state in (SENT, FAILED) and op.operation == CREATE
        return Attempt(
            op,
            stripe_id,
            params,
            digest,
            generation,
            started_at=clock.now_timestamp(),
            look_up_since=prior.sent_at if may_exist and prior is not None else None,
        )

    def _not_attempted(self, op: PlannedOperation, reason: str) -> OperationOutcome:
        return OperationOutcome(op, FAILED, op.stripe_id, f"Not attempted: {reason}.", None)

    # -- requests (pool threads; no warehouse access) ------------------------------------------------------

    def _perform(self, attempt: Attempt) -> OperationOutcome:
        try:
            return self._attempt(attempt)
        except Exception as error:  # one operation's surprise must not stop the others
            return self._outcome(attempt, FAILED, None, f"Error: {one_line(error)}", None, attempt.generation)

    def _attempt(self, attempt: Attempt) -> OperationOutcome:
        op = attempt.operation
        if attempt.look_up_since is not None:
            try:
                existing = find_created(self.reader, op.stripe_object, op.key, attempt.params, since=attempt.look_up_since)
            except stripe.StripeError as error:
                message = f"Not sent: could not check whether an earlier attempt created it: {one_line(error)}"
                return self._outcome(attempt, FAILED, None, message, error.request_id, attempt.generation)
            if existing is not None:
                return self._adopted(attempt, existing, attempt.generation)
        generation = attempt.generation
        tries = 0
        while True:
            if self.budget.spent:
                message = f"Not sent: {self._stop_reason()}" if tries == 0 else f"Stripe Error: {self.last_transient}"
                return self._outcome(attempt, FAILED, attempt.stripe_id, message, None, generation, sent=tries > 0)
            tries += 1
            try:
                result = _call(self.client, attempt, attempt.key(generation), 0 if self.budget.failing else None)
            except stripe.StripeError as error:
                verdict = classify(error)
                message = f"Stripe Error: {one_line(error)}"
                if verdict is Verdict.TRANSIENT:
                    self.last_transient = one_line(error)
                    self.budget.failed()
                    if tries >= self.settings.max_attempts or not self.budget.wait(backoff_seconds(tries, error)):
                        return self._outcome(attempt, FAILED, attempt.stripe_id, message, error.request_id, generation)
                    continue
                if verdict in (Verdict.OUTCOME_UNKNOWN, Verdict.KEY_CONFLICT):
                    recovered = self._recover(attempt)
                    if recovered is not None:
                        return self._adopted(attempt, recovered, generation)
                    generation += 1  # this key can only replay that answer: a new one sends the request afresh
                    if tries >= self.settings.max_attempts:
                        return self._outcome(attempt, FAILED, attempt.stripe_id, message, error.request_id, generation)
                    continue
                if verdict is Verdict.FATAL:
                    self.fatal = one_line(error)
                    self.budget.stop.set()
                    return self._outcome(attempt, FAILED, attempt.stripe_id, message, error.request_id, generation)
                return self._outcome(attempt, REJECTED, attempt.stripe_id, message, error.request_id, generation)
            self.budget.succeeded()
            link = getattr(result, "hosted_invoice_url", None) if op.operation == FINALIZE else None
            return self._outcome(
                attempt, SUCCESS, result.id, _describe(op, result.id), _request_id(result), generation, link=link
            )

    def _recover(self, attempt: Attempt) -> dict[str, Any] | None:
        """What an earlier request with this operation's key did, when Stripe will not say: the created object,
        or the canceled or finalized one; None when it is not done (send it again)."""
        op = attempt.operation
        if op.operation == CREATE:
            return find_created(self.reader, op.stripe_object, op.key, attempt.params, since=attempt.first_sent_at)
        if op.operation in (CANCEL, FINALIZE):
            current = self.reader.retrieve(op.stripe_object, attempt.stripe_id).to_dict(for_json=True)
            if op.operation == FINALIZE and current.get("status") != "draft":
                return current
            if op.operation == CANCEL and current.get("status") in ENDED_STATUSES.get(op.stripe_object, ()):
                return current
        return None  # updates and archives set the same fields again

    def _adopted(self, attempt: Attempt, found: Mapping[str, Any], generation: int) -> OperationOutcome:
        self.budget.succeeded()
        stripe_id = found["id"]
        link = found.get("hosted_invoice_url") if attempt.operation.operation == FINALIZE else None
        message = _describe(attempt.operation, stripe_id, adopted=True)
        return self._outcome(attempt, SUCCESS, stripe_id, message, None, generation, link=link, adopted=True)

    def _outcome(
        self,
        attempt: Attempt,
        status: str,
        stripe_id: str | None,
        message: str,
        request_id: str | None,
        generation: int,
        *,
        link: str | None = None,
        adopted: bool = False,
        sent: bool = True,
    ) -> OperationOutcome:
        return OperationOutcome(
            attempt.operation,
            status,
            stripe_id,
            message,
            request_id,
            payment_link=link,
            idempotency_key=attempt.key(generation) if sent else None,
            payload_hash=attempt.payload_hash,
            generation=generation,
            adopted=adopted,
        )


def execute_plan(
    client: stripe.StripeClient,
    operations: Sequence[PlannedOperation],
    known_ids: Mapping[str, str],
    *,
    journal: Journal | None = None,
    settings: ExecutionSettings = ExecutionSettings(),
    lanes: Mapping[str, str] | None = None,
) -> Execution:
    """Run the operations, independent ones concurrently (`graph.py`). An operation whose dependency did not
    succeed is skipped, not attempted. `lanes`: desired object address -> lane (its customer's address)."""
    return _PlanRun(client, operations, known_ids, journal, settings, lanes or {}).run()


def _carries_sync_key(op: PlannedOperation) -> bool:
    """Creates carry the sync key that lets a later run adopt what they made. Stripe takes no metadata on a
    schedule created from a subscription (F33), so there the update that gives it its phases, right after in the
    same plan (no Stripe id yet), carries it instead."""
    if op.operation == CREATE:
        return FROM_SUBSCRIPTION not in op.params
    return op.operation == "update" and op.stripe_id is None and op.stripe_object == "subscription_schedule"
