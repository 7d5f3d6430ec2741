"""The code location's resources. Secrets come only from the environment, as `dagster.EnvVar`s, and only the
variables that are set are wired in: unset Salesforce or Stripe credentials mean the embedded sandboxes."""

from __future__ import annotations

import os

import dagster as dg

from sf_stripe_pipeline import home
from sf_stripe_pipeline.defs.salesforce.resources import SalesforceResource
from sf_stripe_pipeline.defs.stripe.resources import StripeResource
from sf_stripe_pipeline.defs.warehouse_resource import WarehouseResource

SALESFORCE_ENV = {
    "instance_url": "SF_INSTANCE_URL",
    "access_token": "SF_ACCESS_TOKEN",
    "username": "SF_USERNAME",
    "password": "SF_PASSWORD",
    "security_token": "SF_SECURITY_TOKEN",
    "consumer_key": "SF_CONSUMER_KEY",
    "private_key_file": "SF_PRIVATE_KEY_FILE",
    "domain": "SF_DOMAIN",
}
STRIPE_ENV = {"api_key": "STRIPE_API_KEY", "api_base": "STRIPE_API_BASE"}


def _env_fields(fields: dict[str, str]) -> dict[str, dg.EnvVar]:
    return {field: dg.EnvVar(variable) for field, variable in fields.items() if os.environ.get(variable)}


def build_resources() -> dict[str, object]:
    return {
        "salesforce": SalesforceResource(**_env_fields(SALESFORCE_ENV)),
        "stripe": StripeResource(**_env_fields(STRIPE_ENV)),
        "duckdb": WarehouseResource(database=str(home.warehouse_path())),
    }


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources=build_resources())
