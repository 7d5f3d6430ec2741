"""One bad order never blocks another (spec F5, §1.10): orders sync in contract order, the first failing one gets
its errors, the ones before it sync and the ones after it wait; deleted orders never create Stripe objects (F46)."""

from __future__ import annotations

from typing import Any

from sf_stripe_pipeline.core import ContractAssessment, assess_contracts, build_contracts, desired_state
from sf_stripe_pipeline.core.rules import DELETED, PARTIAL, QUARANTINED, VALID

from .builders import INSTANCE_URL, TODAY, OrgBuilder, config


class _Contract:
    """A 12-month monthly contract from 2025-04-01 (seats at $10), with amendments added one by one."""

    def __init__(self, **initial_fields: Any) -> None:
        self.builder = OrgBuilder()
        self.account = self.builder.account()
        self.seats = self.builder.entry(self.builder.product(Name="Seats"), 10)
        self.support = self.builder.entry(self.builder.product(Name="Support"), 20)
        self.initial = self.builder.order(self.account, **initial_fields)
        self.seat_line = self.builder.line(self.initial, self.seats, quantity=5)

    def amend(self, start: str = "2025-06-01", term: int = 10, **order_fields: Any) -> dict:
        quote = {"SBQQ__StartDate__c": start, "SBQQ__SubscriptionTerm__c": term, "SBQQ__Type__c": "Amendment"}
        return self.builder.order(self.account, amends=self.initial, quote=quote, **order_fields)

    def add(self, amendment: dict, entry: dict, quantity: float, **fields: Any) -> dict:
        term = next(q for q in self.builder.org["SBQQ__Quote__c"] if q["Id"] == amendment["SBQQ__Quote__c"])[
            "SBQQ__SubscriptionTerm__c"
        ]
        unit = next(e for e in self.builder.org["PricebookEntry"] if e["Id"] == entry["Id"])["UnitPrice"]
        return self.builder.line(
            amendment, entry, quantity=quantity, unit_price=unit * term, SBQQ__SubscriptionTerm__c=term, **fields
        )

    def assess(self) -> ContractAssessment:
        org = self.builder.snapshot()
        (assessment,) = assess_contracts(
            build_contracts(org), org, config(), today=TODAY, instance_url=INSTANCE_URL
        ).values()
        return assessment

    def phase_quantities(self, assessment: ContractAssessment) -> list[list[int]]:
        schedule = next(o for o in assessment.objects if o.stripe_object == "subscription_schedule")
        return [[item.get("quantity") for item in phase["items"]] for phase in schedule.params["phases"]]


def test_a_contract_whose_orders_all_pass_syncs_every_order() -> None:
    contract = _Contract()
    first = contract.amend()
    contract.add(first, contract.support, 2)
    assessment = contract.assess()
    assert assessment.status == VALID and assessment.violations == [] and assessment.skipped == ()
    assert assessment.synced_order_ids == (contract.initial["Id"], first["Id"])
    assert contract.phase_quantities(assessment) == [[5], [5, 2]]


def test_an_invalid_amendment_keeps_the_earlier_orders_and_holds_the_later_ones() -> None:
    contract = _Contract()
    valid = contract.amend("2025-06-01", 10)
    contract.add(valid, contract.support, 2)
    not_coterminating = contract.amend("2025-07-01", 12)  # ends 2026-07-01, the contract 2026-04-01
    contract.add(not_coterminating, contract.support, 1)
    later = contract.amend("2025-08-01", 8)
    contract.add(later, contract.seats, 3)

    assessment = contract.assess()

    assert assessment.status == PARTIAL
    assert assessment.synced_order_ids == (contract.initial["Id"], valid["Id"])
    assert assessment.failing_order_id == not_coterminating["Id"]
    assert {(v.rule, v.sf_id) for v in assessment.violations} == {("co_termination", not_coterminating["Id"])}
    ((waiting, why),) = assessment.skipped
    assert waiting == later["Id"] and why.startswith(f"Waiting for Order {not_coterminating['Id']}")
    assert "co_termination" in why
    # The Stripe objects are those of the synced orders alone: two phases, the later amendment's seats absent.
    assert contract.phase_quantities(assessment) == [[5], [5, 2]]
    assert not [o for o in assessment.objects if o.sf_id in (not_coterminating["Id"], later["Id"])]


def test_a_line_level_error_fails_its_own_amendment() -> None:
    contract = _Contract()
    amendment = contract.amend()
    bad_line = contract.add(amendment, contract.support, 2.5)
    assessment = contract.assess()
    assert assessment.status == PARTIAL and assessment.failing_order_id == amendment["Id"]
    assert [(v.rule, v.sf_id) for v in assessment.violations] == [("integer_quantity", bad_line["Id"])]
    assert assessment.synced_order_ids == (contract.initial["Id"],)
    assert contract.phase_quantities(assessment) == [[5]]


def test_a_product_used_only_by_an_amendment_fails_that_amendment_not_the_contract() -> None:
    contract = _Contract()
    invoice_plan = contract.builder.product(Name="Broken", SBQQ__BillingFrequency__c="Invoice Plan")
    broken = contract.builder.entry(invoice_plan, 7)
    amendment = contract.amend()
    contract.add(amendment, broken, 1)
    assessment = contract.assess()
    assert assessment.status == PARTIAL and assessment.failing_order_id == amendment["Id"]
    assert "billing_frequency_supported" in {v.rule for v in assessment.violations}


def test_a_failing_initial_order_holds_the_whole_contract() -> None:
    contract = _Contract()
    contract.seat_line["Quantity"] = 2.5
    amendment = contract.amend()
    contract.add(amendment, contract.support, 1)
    assessment = contract.assess()
    assert assessment.status == QUARANTINED and assessment.objects == [] and assessment.synced_order_ids == ()
    assert assessment.failing_order_id == contract.initial["Id"]
    assert [order_id for order_id, _ in assessment.skipped] == [amendment["Id"]]


def test_a_shared_record_that_fails_holds_the_whole_contract() -> None:
    contract = _Contract()
    contract.builder.org["Account"][0]["Name"] = None
    amendment = contract.amend()
    contract.add(amendment, contract.support, 1)
    assessment = contract.assess()
    assert assessment.status == QUARANTINED and assessment.failing_order_id == contract.initial["Id"]
    assert {(v.rule, v.sf_object) for v in assessment.violations} == {("schema", "Account")}


def test_an_amendment_that_only_fails_with_its_predecessors_is_still_the_failing_one() -> None:
    """The F28 limit is named on the initial order, but only an amendment makes it apply: the initial order syncs."""
    contract = _Contract(quote={"SBQQ__StartDate__c": "2025-04-01", "SBQQ__SubscriptionTerm__c": 18})
    for entry in contract.builder.org["PricebookEntry"]:
        entry["UnitPrice"] = 120
    for product in contract.builder.org["Product2"]:
        product["SBQQ__BillingFrequency__c"] = "Annual"
    contract.seat_line.update(SBQQ__BillingFrequency__c="Annual", UnitPrice=180, SBQQ__SubscriptionTerm__c=18)
    amendment = contract.amend("2025-10-01", 12)
    contract.add(amendment, contract.support, 1, SBQQ__BillingFrequency__c="Annual")
    assessment = contract.assess()
    assert assessment.status == PARTIAL and assessment.failing_order_id == amendment["Id"]
    assert [(v.rule, v.sf_id) for v in assessment.violations] == [("not_yet_supported", contract.initial["Id"])]


def test_an_already_synced_amendment_that_now_fails_holds_the_contract_rather_than_undo_it() -> None:
    contract = _Contract(Stripe_ID__c="sub_sched_1")
    synced = contract.amend(Stripe_ID__c="sub_sched_1")
    bad_line = contract.add(synced, contract.support, 2)
    bad_line["Quantity"] = 2.5
    assessment = contract.assess()
    assert assessment.status == QUARANTINED and assessment.objects == []
    assert assessment.failing_order_id == synced["Id"]


def test_desired_state_keeps_the_synced_orders_of_a_partly_valid_contract() -> None:
    contract = _Contract()
    amendment = contract.amend("2025-07-01", 12)
    contract.add(amendment, contract.support, 1)
    org = contract.builder.snapshot()
    objects = desired_state(build_contracts(org), org, config(), today=TODAY, instance_url=INSTANCE_URL)
    assert {o.stripe_object for o in objects} == {"customer", "product", "price", "subscription_schedule"}
    assert {o.sf_id for o in objects if o.stripe_object == "price"} == {contract.seats["Id"]}


def test_a_deleted_initial_order_creates_nothing() -> None:
    contract = _Contract(IsDeleted=True)
    assessment = contract.assess()
    assert assessment.status == DELETED and assessment.objects == [] and assessment.violations == []
    ((order_id, why),) = assessment.skipped
    assert order_id == contract.initial["Id"] and "deleted in Salesforce" in why and "nothing is created" in why


def test_an_order_deleted_after_its_sync_freezes_its_contract() -> None:
    contract = _Contract(Stripe_ID__c="sub_sched_1")
    amendment = contract.amend(IsDeleted=True, Stripe_ID__c="sub_sched_1")
    contract.add(amendment, contract.support, 1)
    assessment = contract.assess()
    assert assessment.status == DELETED and assessment.objects == []
    ((order_id, why),) = assessment.skipped
    assert order_id == amendment["Id"] and "after it was synced" in why and "F46" in why


def test_an_amendment_deleted_before_its_sync_is_left_out() -> None:
    contract = _Contract()
    deleted = contract.amend(IsDeleted=True)
    contract.add(deleted, contract.support, 3)
    assessment = contract.assess()
    assert assessment.status == VALID and assessment.synced_order_ids == (contract.initial["Id"],)
    assert [order_id for order_id, _ in assessment.skipped] == [deleted["Id"]]
    assert contract.phase_quantities(assessment) == [[5]]


def test_a_draft_amendment_is_neither_synced_nor_waiting() -> None:
    contract = _Contract()
    draft = contract.amend(Status="Draft", ActivatedDate=None)
    contract.add(draft, contract.support, 3)
    assessment = contract.assess()
    assert assessment.status == VALID and assessment.synced_order_ids == (contract.initial["Id"],)
    assert assessment.skipped == ()


def test_lines_whose_order_is_missing_are_rejected_under_that_order() -> None:
    contract = _Contract()
    orphan = contract.builder.line(contract.initial, contract.seats)
    orphan["OrderId"] = "801000000000000099"
    org = contract.builder.snapshot()
    assessments = assess_contracts(build_contracts(org), org, config(), today=TODAY)
    missing = assessments["801000000000000099"]
    assert missing.status == QUARANTINED
    assert [(v.rule, v.sf_id) for v in missing.violations] == [("order_present", orphan["Id"])]
    assert assessments[contract.initial["Id"]].status == VALID


def test_a_termination_with_amendments_queued_after_it_fails_itself_and_they_wait() -> None:
    """Spec §1.10: "Termination processing with more amendments queued": the termination is not processed."""
    contract = _Contract()
    termination = contract.amend("2025-06-01", 10)
    contract.add(termination, contract.seats, -5, SBQQ__RevisedOrderProduct__c=contract.seat_line["Id"])
    later = contract.amend("2025-07-01", 9)
    contract.add(later, contract.support, 1)
    assessment = contract.assess()
    assert assessment.status == PARTIAL and assessment.synced_order_ids == (contract.initial["Id"],)
    assert assessment.failing_order_id == termination["Id"]
    assert [(v.rule, v.sf_id) for v in assessment.violations] == [("termination_is_last", later["Id"])]
    assert [order_id for order_id, _ in assessment.skipped] == [later["Id"]]


def test_an_initial_order_outside_the_order_filter_fails_even_when_its_amendment_passes() -> None:
    contract = _Contract(_passes_filter=False)
    amendment = contract.amend()
    contract.add(amendment, contract.support, 1)
    assessment = contract.assess()
    assert assessment.status == QUARANTINED and assessment.objects == []
    assert [v.rule for v in assessment.violations] == ["initial_order_passes_filter"]


def test_an_amendment_after_a_synced_termination_fails_itself() -> None:
    contract = _Contract(Stripe_ID__c="sub_sched_1")
    termination = contract.amend("2025-06-01", 10, Stripe_ID__c="sub_sched_1")
    contract.add(termination, contract.seats, -5, SBQQ__RevisedOrderProduct__c=contract.seat_line["Id"])
    later = contract.amend("2025-07-01", 9)
    contract.add(later, contract.support, 1)
    assessment = contract.assess()
    assert assessment.status == PARTIAL and assessment.failing_order_id == later["Id"]
    assert assessment.synced_order_ids == (contract.initial["Id"], termination["Id"])
