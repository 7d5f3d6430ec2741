"""A stateful local Salesforce org, reached by simple-salesforce over the real REST request paths.

See api.py for the REST surface, store.py for the on-disk org and soql.py for the SOQL subset; the objects and
fields it serves come from the pipeline's own catalogue, `sf_stripe_pipeline/salesforce/catalogue.py`.
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
