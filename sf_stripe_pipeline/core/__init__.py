"""The functional core of the Salesforce CPQ -> Stripe Billing sync: pure functions over plain data.

    OrgSnapshot --build_contracts--> contracts --contracts_in_scope--> in scope
        --validate_contracts / assess_contracts--> violations per contract (quarantined whole)
        --desired_state--> desired Stripe objects --plan_operations(actual Stripe state)--> operations

No I/O, no clock and no environment here (except reading the config file): the Dagster shell extracts,
reads Stripe, applies the plan and writes back. The unit of sync is a contract (initial order + amendments).
"""

from sf_stripe_pipeline.core.config import ConfigError, SyncConfig, load_config, parse_config
from sf_stripe_pipeline.core.contracts import Contract, build_contracts, contracts_in_scope
from sf_stripe_pipeline.core.desired import REF_KEY, DesiredObject, ref
from sf_stripe_pipeline.core.plan import Plan, PlannedOperation, PlanningNote, build_plan, plan_operations
from sf_stripe_pipeline.core.org import OrgSnapshot
from sf_stripe_pipeline.core.rules import ContractAssessment, assess_contracts, validate_contracts
from sf_stripe_pipeline.core.schemas import SCHEMAS, schema_failures
from sf_stripe_pipeline.core.translate import desired_state
from sf_stripe_pipeline.core.violations import Violation

__all__ = [
    "REF_KEY",
    "SCHEMAS",
    "ConfigError",
    "Contract",
    "ContractAssessment",
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
    "desired_state",
    "load_config",
    "parse_config",
    "plan_operations",
    "ref",
    "schema_failures",
    "validate_contracts",
]
