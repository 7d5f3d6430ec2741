"""A contract is assessed again when, and only when, something its assessment read changed (issue 9: each contract
assessed once per change, not once per run); what a stored assessment stands for is what a fresh one gives."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sf_stripe_pipeline.core import OrgSnapshot, assess_contracts, build_contracts
from sf_stripe_pipeline.core import ContractAssessment
from sf_stripe_pipeline.core.assessment_inputs import (
    Basis,
    Reads,
    StoredInputs,
    TracedOrg,
    assess_changed_in_batches,
    inputs_digest,
)

from .builders import INSTANCE_URL, TODAY, OrgBuilder, config


class _TwoAccounts:
    """Two accounts, each with a contract on the shared Seats product; the first contract is amended."""

    def __init__(self) -> None:
        self.builder = OrgBuilder()
        self.acme, self.globex = self.builder.account(Name="Acme"), self.builder.account(Name="Globex")
        self.seats = self.builder.entry(self.builder.product(Name="Seats"), 10)
        self.acme_order = self.builder.order(self.acme)
        self.acme_line = self.builder.line(self.acme_order, self.seats, quantity=5)
        quote = {"SBQQ__StartDate__c": "2025-06-01", "SBQQ__SubscriptionTerm__c": 10, "SBQQ__Type__c": "Amendment"}
        amendment = self.builder.order(self.acme, amends=self.acme_order, quote=quote)
        self.builder.line(amendment, self.seats, quantity=2, unit_price=100, SBQQ__SubscriptionTerm__c=10)
        self.globex_order = self.builder.order(self.globex)
        self.builder.line(self.globex_order, self.seats, quantity=3)

    def org(self) -> OrgSnapshot:
        return self.builder.snapshot()  # a new snapshot, as each run loads the org again


@dataclass(frozen=True)
class _Assessed:
    assessments: dict[str, ContractAssessment]
    inputs: dict[str, StoredInputs]
    unchanged: frozenset[str]


def _assess(org: OrgSnapshot, stored: dict | None = None, **overrides: Any) -> _Assessed:
    """Every batch of a run's assessment, gathered."""
    today = overrides.pop("today", TODAY)
    found = assess_changed_in_batches(
        build_contracts(org),
        org,
        config(**overrides),
        today=today,
        instance_url=INSTANCE_URL,
        stored_schema_failures={},
        stored_inputs=stored or {},
        batch_size=1,
    )
    assessed = _Assessed({}, {}, found.unchanged)
    for assessments, inputs in found.batches:
        assessed.assessments.update(assessments)
        assessed.inputs.update(inputs)
    return assessed


def test_an_unchanged_org_keeps_every_stored_assessment() -> None:
    org = _TwoAccounts()
    first = _assess(org.org())
    assert set(first.assessments) == {org.acme_order["Id"], org.globex_order["Id"]} and first.unchanged == set()
    assert all(inputs.reads.records and inputs.reads.children for inputs in first.inputs.values())

    again = _assess(org.org(), first.inputs)

    assert again.assessments == {} and again.unchanged == set(first.assessments)


def test_a_changed_line_has_only_its_contract_assessed_again_as_a_fresh_assessment_would() -> None:
    org = _TwoAccounts()
    first = _assess(org.org())
    org.acme_line["Quantity"] = 7

    again = _assess(org.org(), first.inputs)

    assert set(again.assessments) == {org.acme_order["Id"]} and again.unchanged == {org.globex_order["Id"]}
    fresh = assess_contracts(build_contracts(org.org()), org.org(), config(), today=TODAY, instance_url=INSTANCE_URL)
    assert again.assessments[org.acme_order["Id"]] == fresh[org.acme_order["Id"]]
    assert again.assessments != {org.acme_order["Id"]: first.assessments[org.acme_order["Id"]]}, "7 seats now"


def test_a_line_added_to_an_order_and_a_shared_record_changed_are_changes() -> None:
    org = _TwoAccounts()
    first = _assess(org.org())
    org.builder.line(org.globex_order, org.seats, quantity=1, Description="A new line on a read order")
    assert set(_assess(org.org(), first.inputs).assessments) == {org.globex_order["Id"]}

    second = _assess(org.org())
    org.builder.org["Product2"][0]["Name"] = "Seats (renamed)"  # both contracts read the product
    assert _assess(org.org(), second.inputs).unchanged == set()


def test_a_record_that_starts_sharing_a_read_records_stripe_id_is_a_change() -> None:
    """The rule `stripe_id_unique` compares records across the org: Acme's account does not change, yet it breaks."""
    org = _TwoAccounts()
    org.acme["Stripe_ID__c"] = "cus_acme"
    first = _assess(org.org())
    org.globex["Stripe_ID__c"] = "cus_acme"

    again = _assess(org.org(), first.inputs)

    assert again.unchanged == set()
    rules = {violation.rule for violation in again.assessments[org.acme_order["Id"]].violations}
    assert "stripe_id_unique" in rules


def test_the_day_the_config_and_a_changed_contract_membership_are_changes() -> None:
    org = _TwoAccounts()
    first = _assess(org.org())
    assert _assess(org.org(), first.inputs, today=TODAY + timedelta(days=1)).unchanged == set()
    assert _assess(org.org(), first.inputs, default_currency="EUR").unchanged == set()

    org.builder.order(org.globex, amends=org.globex_order, Status="Draft")  # a new (draft) amendment joins
    assert org.globex_order["Id"] not in _assess(org.org(), first.inputs).unchanged


def test_reads_survive_their_stored_form() -> None:
    org = _TwoAccounts()
    reads = _assess(org.org()).inputs[org.acme_order["Id"]].reads
    assert Reads.from_json(reads.to_json()) == reads


def test_an_object_read_whole_is_an_input_in_every_record() -> None:
    org = _TwoAccounts()
    (contract,) = [c for c in build_contracts(org.org()) if c.key == org.globex_order["Id"]]
    traced = TracedOrg(org.org())
    traced.records("Product2")
    reads = traced.reads()
    assert reads == Reads(scans=("Product2",))

    def digest() -> str:
        return inputs_digest(contract, reads, org.org(), Basis(config(), TODAY, INSTANCE_URL))

    before = digest()
    org.builder.product(Name="A product no contract uses")
    assert digest() != before
