"""The two sandboxes of one state home, as the real clients see them: shared by the end-to-end tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import stripe
from simple_salesforce import Salesforce

from sf_stripe_pipeline import home
from sf_stripe_pipeline.sandbox.salesforce import SalesforceSandbox
from sf_stripe_pipeline.sandbox.stripe import StripeSandbox


@dataclass
class SandboxClients:
    home: Path
    salesforce: SalesforceSandbox
    stripe_sandbox: StripeSandbox

    @classmethod
    def at(cls, state_home: Path) -> SandboxClients:
        """The sandboxes under `state_home`, with an empty Stripe."""
        stripe_sandbox = StripeSandbox(home.stripe_sandbox_dir(state_home))
        stripe_sandbox.reset()
        return cls(state_home, SalesforceSandbox(home.salesforce_sandbox_dir(state_home)), stripe_sandbox)

    @property
    def sf(self) -> Salesforce:
        return self.salesforce.client()

    @property
    def stripe(self) -> stripe.StripeClient:
        return self.stripe_sandbox.client()

    def stripe_id(self, sobject: str, record_id: str) -> str | None:
        """The Stripe id written back on a Salesforce record."""
        query = f"SELECT Stripe_ID__c FROM {sobject} WHERE Id = '{record_id}'"
        return self.sf.query(query)["records"][0]["Stripe_ID__c"]

    def sync_record(self, primary: str, secondary: str) -> dict:
        """The one `Sync_Record__c` of (primary, secondary)."""
        [record] = self.sf.query(
            "SELECT Resolution_Status__c, Resolution_Message__c, Secondary_Object_Type__c, Dagster_Run_ID__c "
            f"FROM Sync_Record__c WHERE Compound_ID__c = '{primary}-{secondary}'"
        )["records"]
        return record
