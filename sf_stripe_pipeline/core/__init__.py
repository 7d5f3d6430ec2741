"""The functional core of the Salesforce CPQ -> Stripe Billing sync: pure functions over plain data.

    OrgSnapshot --build_contracts--> contracts --contracts_in_scope--> in scope (activated or changed in a window)
        (or --contracts_of(chosen orders)--> their contracts, without listing the org's other orders)
        --assess_contracts--> per contract: the orders synced, the failing order and its violations, the waiting ones
        --desired_state--> desired Stripe objects
        --unchanged.unchanged_objects(ledger digests)--> those whose contracts need no Stripe read
        --build_plan(actual Stripe state of the rest)--> operations
        --limits.withhold_destructive--> the operations a run may apply

No I/O, no clock and no environment here (except reading the config file): the Dagster shell extracts,
reads Stripe, applies the plan and writes back. The unit of sync is a contract (initial order + amendments),
applied order by order.
"""

from sf_stripe_pipeline.core.accounts import polled_contracts
from sf_stripe_pipeline.core.config import ConfigError, SyncConfig, load_config, parse_config
from sf_stripe_pipeline.core.contracts import Contract, build_contracts, contracts_in_scope, contracts_of
from sf_stripe_pipeline.core.desired import REF_KEY, DesiredObject, ref
from sf_stripe_pipeline.core.plan import Plan, PlannedOperation, PlanningNote, build_plan, plan_operations
from sf_stripe_pipeline.core.org import OrgSnapshot
from sf_stripe_pipeline.core.rules import ContractAssessment, ContractVerdict, assess_contracts, validate_contracts
from sf_stripe_pipeline.core.schemas import SCHEMAS, schema_failures
from sf_stripe_pipeline.core.translate import desired_state, merge_desired
from sf_stripe_pipeline.core.violations import Violation

__all__ = [
    "REF_KEY",
    "SCHEMAS",
    "ConfigError",
    "Contract",
    "ContractAssessment",
    "ContractVerdict",
    "DesiredObject",
    "OrgSnapshot",
    "Plan",
    "PlannedOperation",
    "PlanningNote",
    "SyncConfig",
    "Violation",
    "assess_contracts",
    "build_contracts",
    "build_plan",
    "contracts_in_scope",
    "contracts_of",
    "desired_state",
    "load_config",
    "merge_desired",
    "parse_config",
    "plan_operations",
    "polled_contracts",
    "ref",
    "schema_failures",
    "validate_contracts",
]
