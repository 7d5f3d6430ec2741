"""A stateful local Salesforce org, reached by simple-salesforce over the real REST request paths.

See api.py for the REST surface, store.py for the on-disk org, soql.py for the SOQL subset, auth.py for logins and
faults.py for injected failures; the objects and fields it serves come from the pipeline's own catalogue,
`sf_stripe_pipeline/salesforce/catalogue.py`.
"""

from __future__ import annotations

from sf_stripe_pipeline.sandbox.salesforce.api import SalesforceSandbox
from sf_stripe_pipeline.sandbox.salesforce.faults import FAULTS_ENV_VAR, FaultConfig, FaultConfigError
from sf_stripe_pipeline.sandbox.salesforce.store import (
    API_VERSION,
    INSTANCE_URL,
    OrgRecordError,
    SalesforceApiError,
    SalesforceRequestRecord,
    SandboxStateError,
)

__all__ = [
    "API_VERSION",
    "FAULTS_ENV_VAR",
    "INSTANCE_URL",
    "FaultConfig",
    "FaultConfigError",
    "OrgRecordError",
    "SalesforceApiError",
    "SalesforceRequestRecord",
    "SalesforceSandbox",
    "SandboxStateError",
]
