"""F28: an initial order whose term is not a multiple of its billing frequency (backend proration)."""

from __future__ import annotations

from datetime import date

from sf_stripe_pipeline.core.contracts import build_contracts
from sf_stripe_pipeline.core.money import midnight_timestamp
from sf_stripe_pipeline.core.rules import ContractAssessment, assess_contracts

from .builders import INSTANCE_URL, TODAY, OrgBuilder, config


def _assess(
    term: int, *, quantity: int = 3, frequency: str = "Annual", **overrides: object
) -> tuple[ContractAssessment, dict, dict]:
    """A $1,200-a-year product on a `term`-month order starting 2025-08-31 (a month end)."""
    builder = OrgBuilder()
    entry = builder.entry(builder.product(SBQQ__BillingFrequency__c=frequency), 1200)
    order = builder.order(
        builder.account(), quote={"SBQQ__StartDate__c": "2025-08-31", "SBQQ__SubscriptionTerm__c": term}
    )
    line = builder.line(order, entry, quantity=quantity, unit_price=1200 * term / 12, SBQQ__SubscriptionTerm__c=term)
    org = builder.snapshot()
    (assessment,) = assess_contracts(
        build_contracts(org), org, config(**overrides), today=TODAY, instance_url=INSTANCE_URL
    ).values()
    return assessment, entry, line


def _ts(day: str) -> int:
    return midnight_timestamp(date.fromisoformat(day))


def test_an_18_month_term_billed_yearly_bills_the_last_6_months_once_in_a_second_phase() -> None:
    assessment, entry, line = _assess(18)
    assert assessment.violations == []
    schedule = next(o for o in assessment.objects if o.stripe_object == "subscription_schedule")
    whole, leftover = schedule.params["phases"]
    assert whole["end_date"] == _ts("2026-08-31") and "add_invoice_items" not in whole
    assert leftover["end_date"] == _ts("2027-02-28")
    assert leftover["items"] == whole["items"] and whole["items"][0]["price"] == {"$ref": f"price:{entry['Id']}"}
    assert leftover["proration_behavior"] == "none"
    assert leftover["metadata"]["salesforce_backend_proration"] == "true"
    (invoice_item,) = leftover["add_invoice_items"]
    assert invoice_item["quantity"] == 3
    assert invoice_item["period"] == {"start": {"type": "phase_start"}, "end": {"type": "phase_end"}}
    price = next(o for o in assessment.objects if o.params is not None and o.key == f"{line['Id']}-backend-proration")
    assert invoice_item["price"] == {"$ref": f"price:{price.key}"}
    assert price.params["unit_amount_decimal"] == "60000"  # 1,200 x 6/12, in cents
    assert "recurring" not in price.params and price.params["metadata"]["salesforce_proration"] == "true"


def test_a_term_that_is_a_multiple_keeps_one_phase() -> None:
    assessment, _, _ = _assess(24)
    schedule = next(o for o in assessment.objects if o.stripe_object == "subscription_schedule")
    assert assessment.violations == [] and len(schedule.params["phases"]) == 1


def test_a_term_shorter_than_the_frequency_needs_frontend_prorations() -> None:
    assessment, _, _ = _assess(9)
    (violation,) = assessment.violations
    assert violation.rule == "frontend_proration" and "frontend_prorations: true" in violation.message


def test_frontend_proration_bills_a_nine_month_term_of_a_yearly_line_three_quarters_of_its_price() -> None:
    """F28 (flag frontend_prorations): 1,200 a year for a 9-month term is one period at 1,200 x 9/12 = 900, by a
    price of the line's own marked salesforce_frontend_proration; the single phase ends with the term."""
    assessment, entry, line = _assess(9, frontend_prorations=True)
    assert assessment.violations == []
    schedule = next(o for o in assessment.objects if o.stripe_object == "subscription_schedule")
    (phase,) = schedule.params["phases"]
    assert phase["end_date"] == _ts("2026-05-31") and "add_invoice_items" not in phase
    assert phase["items"] == [{"price": {"$ref": f"price:{line['Id']}"}, "quantity": 3, "metadata": phase["items"][0]["metadata"]}]
    price = next(o for o in assessment.objects if o.stripe_object == "price" and o.key == line["Id"])
    assert price.params["unit_amount_decimal"] == "90000"
    assert price.params["recurring"]["interval_count"] == 12
    assert price.params["metadata"]["salesforce_frontend_proration"] == "true"
    assert price.params["metadata"]["salesforce_auto_archive"] == "true"
    assert all(o.key != entry["Id"] for o in assessment.objects if o.stripe_object == "price")


def test_frontend_proration_leaves_lines_billed_within_the_term_alone() -> None:
    assessment, _, _ = _assess(9, frequency="Quarterly", frontend_prorations=True)
    assert assessment.violations == []
    (price,) = [o for o in assessment.objects if o.stripe_object == "price"]
    assert price.params["unit_amount_decimal"] == "30000"  # UnitPrice 900 over three quarters, not reduced
    assert "salesforce_frontend_proration" not in price.params["metadata"]
