"""Run limits (config `limits`): what a plan may do to Stripe, applied to the plan before anything is written.

Two kinds of limit, handled differently:
- `limits.allow_destructive` is about single contracts. A destructive operation retires a Stripe object still in
  use (today: a price replaced because its PricebookEntry's amount changed after it was used; the new price is
  created and the old one archived). While the setting is false, every contract that needs such an operation is
  held back whole: its operations are withheld and a note (reported as an error on its orders) names the object,
  the reason and the setting. Every other contract syncs.
- `limits.max_operations_per_run` is a hazard for the whole run (a mass change, a mapping mistake): the plan is
  stored whole and the blocking check `plan_within_limits` stops the apply (`run_limit_problems`).
"""

from __future__ import annotations

from sf_stripe_pipeline.core.config import LimitsConfig
from sf_stripe_pipeline.core.plan import Plan, PlannedOperation, PlanningNote

DESTRUCTIVE_SETTING = "limits.allow_destructive"
MAX_OPERATIONS_SETTING = "limits.max_operations_per_run"


def withhold_destructive(plan: Plan, limits: LimitsConfig) -> Plan:
    """The plan without the operations of contracts that need a destructive operation, unless they are allowed;
    each withheld contract gets a note per destructive operation it needs. An operation shared with a contract that
    needs none (its customer, say) is kept."""
    if limits.allow_destructive:
        return plan
    destructive = [operation for operation in plan.operations if operation.destructive]
    held = {key for operation in destructive for key in operation.contract_keys}
    if not held:
        return plan
    kept = [op for op in plan.operations if not op.contract_keys or not set(op.contract_keys) <= held]
    return Plan(kept, [*plan.notes, *(_withheld_note(operation) for operation in destructive)])


def _withheld_note(operation: PlannedOperation) -> PlanningNote:
    return PlanningNote(
        operation.stripe_object,
        operation.key,
        operation.sf_object,
        operation.sf_id,
        operation.stripe_id,
        operation.contract_keys,
        f"{operation.stripe_object} {operation.stripe_id} ({operation.sf_object} {operation.sf_id}) would be "
        f"{_past_tense(operation.operation)} while still in use (its Salesforce data changed after it was used, so "
        f"a new one replaces it), and {DESTRUCTIVE_SETTING} is false: nothing of this contract is synced. Set "
        f"{DESTRUCTIVE_SETTING}: true in the sync config to allow it, or undo the change in Salesforce.",
    )


def _past_tense(operation: str) -> str:
    return {"archive": "archived", "cancel": "cancelled"}.get(operation, f"{operation}d")


def run_limit_problems(operations: int, max_operations: int, config_file: object) -> list[str]:
    """One line per limit the whole plan breaks (an empty list: within limits), saying how to allow it explicitly."""
    if operations <= max_operations:
        return []
    return [
        f"{operations} operations planned, more than the limit of {max_operations}. To allow a large sync "
        f"explicitly, run `sf-stripe-pipeline sync --max-operations {operations}` (or set "
        f"{MAX_OPERATIONS_SETTING} in {config_file})"
    ]
