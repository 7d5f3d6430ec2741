"""A stateful local Salesforce org, reached by simple-salesforce over the real REST request paths.

See api.py for the REST surface, store.py for the on-disk org, soql.py for the SOQL subset and objects.py
for the objects and fields it serves.
"""

from __future__ import annotations

from sf_stripe_pipeline.sandbox.salesforce.api import SalesforceSandbox
from sf_stripe_pipeline.sandbox.salesforce.store import (
    API_VERSION,
    INSTANCE_URL,
    OrgRecordError,
    SalesforceApiError,
    SalesforceRequestRecord,
)

__all__ = [
    "API_VERSION",
    "INSTANCE_URL",
    "OrgRecordError",
    "SalesforceApiError",
    "SalesforceRequestRecord",
    "SalesforceSandbox",
]
