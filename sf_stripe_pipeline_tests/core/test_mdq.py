"""MDQ ramps (F41, F42): one phase per segment, amendments replayed segment by segment."""

from __future__ import annotations

from datetime import date
from typing import Any

from sf_stripe_pipeline.core.contracts import build_contracts
from sf_stripe_pipeline.core.desired import DesiredObject
from sf_stripe_pipeline.core.drafting import SCHEDULE_CANCEL
from sf_stripe_pipeline.core.money import midnight_timestamp
from sf_stripe_pipeline.core.rules import ContractAssessment, assess_contracts

from .builders import INSTANCE_URL, TODAY, OrgBuilder, config

_SEGMENTS = (("2025-01-01", "2025-12-31"), ("2026-01-01", "2026-12-31"), ("2027-01-01", "2027-12-31"))


def _ts(day: str) -> int:
    return midnight_timestamp(date.fromisoformat(day))


class _Ramp:
    """A 3-year yearly ramp of 10/20/30 seats at $10 a month, plus 2 unsegmented add-ons, from 2025-01-01."""

    def __init__(self) -> None:
        self.builder = OrgBuilder()
        self.account = self.builder.account()
        self.seat = self.builder.entry(self.builder.product(Name="Seat"), 10)
        addon = self.builder.entry(self.builder.product(Name="Add-on"), 20)
        self.initial = self.builder.order(
            self.account, quote={"SBQQ__StartDate__c": "2025-01-01", "SBQQ__SubscriptionTerm__c": 36}
        )
        self.segment_lines = [
            self.segment_line(self.initial, index, quantity, term=36)
            for index, quantity in zip((1, 2, 3), (10, 20, 30), strict=True)
        ]
        self.builder.line(self.initial, addon, quantity=2, unit_price=720, SBQQ__SubscriptionTerm__c=36)

    def segment_line(self, order: dict, index: int, quantity: float, *, term: int, **fields: Any) -> dict:
        start, end = _SEGMENTS[index - 1]
        return self.builder.line(
            order,
            self.seat,
            quantity=quantity,
            unit_price=120,  # the segment's 12 months
            SBQQ__SubscriptionTerm__c=term,
            SBQQ__SegmentIndex__c=index,
            SBQQ__SegmentKey__c="SEG-1",
            SBQQ__PriceDimension__c="SEG-1-YEAR",
            SBQQ__DimensionType__c="Year",
            ServiceDate=fields.pop("ServiceDate", start),
            EndDate=end,
            **fields,
        )

    def amend(self, start: str, term: int) -> dict:
        amendment = self.builder.order(
            self.account,
            amends=self.initial,
            quote={"SBQQ__StartDate__c": start, "SBQQ__SubscriptionTerm__c": term, "SBQQ__Type__c": "Amendment"},
        )
        self.builder.contract_of(self.initial)["SBQQ__AmendmentStartDate__c"] = start
        return amendment

    def assess(self, today: date = TODAY) -> ContractAssessment:
        org = self.builder.snapshot()
        (assessment,) = assess_contracts(
            build_contracts(org), org, config(), today=today, instance_url=INSTANCE_URL
        ).values()
        return assessment

    def schedule(self, today: date = TODAY) -> DesiredObject:
        assessment = self.assess(today)
        assert assessment.violations == []
        return next(o for o in assessment.objects if o.stripe_object == "subscription_schedule")


def _quantities(schedule: DesiredObject) -> list[tuple[int, list[int]]]:
    return [(phase["end_date"], [item["quantity"] for item in phase["items"]]) for phase in schedule.params["phases"]]


def test_f41_one_phase_per_segment_with_unsegmented_lines_in_each() -> None:
    ramp = _Ramp()
    schedule = ramp.schedule(today=date(2024, 12, 1))
    assert _quantities(schedule) == [
        (_ts("2026-01-01"), [10, 2]),
        (_ts("2027-01-01"), [20, 2]),
        (_ts("2028-01-01"), [30, 2]),
    ]
    phases = schedule.params["phases"]
    assert [phase["metadata"]["salesforce_segment_index"] for phase in phases] == ["1", "2", "3"]
    assert {phase["items"][0]["metadata"]["salesforce_segment_key"] for phase in phases} == {"SEG-1"}
    assert {phase["items"][0]["price"]["$ref"] for phase in phases} == {f"price:{ramp.seat['Id']}"}  # $10/month
    assert [phase.get("proration_behavior") for phase in phases] == ["none"] * 3


def test_f42_a_future_segment_amendment_replaces_that_segment_only() -> None:
    ramp = _Ramp()
    amendment = ramp.amend("2025-04-01", 33)
    ramp.segment_line(amendment, 2, 5, term=33, SBQQ__RevisedOrderProduct__c=ramp.segment_lines[1]["Id"])
    assert _quantities(ramp.schedule()) == [
        (_ts("2026-01-01"), [10, 2]),
        (_ts("2027-01-01"), [25, 2]),
        (_ts("2028-01-01"), [30, 2]),
    ]


def test_f42_a_current_segment_amendment_splits_it_at_the_amendment_start() -> None:
    ramp = _Ramp()
    amendment = ramp.amend("2025-04-01", 33)
    ramp.segment_line(
        amendment, 1, -4, term=33, ServiceDate="2025-01-01", SBQQ__RevisedOrderProduct__c=ramp.segment_lines[0]["Id"]
    )
    schedule = ramp.schedule()
    assert _quantities(schedule)[:2] == [(_ts("2025-04-01"), [10, 2]), (_ts("2026-01-01"), [6, 2])]
    assert schedule.params["phases"][1]["metadata"]["salesforce_order_id"] == amendment["Id"]


def test_f42_zeroing_every_segment_from_today_cancels_the_schedule() -> None:
    ramp = _Ramp()
    amendment = ramp.amend("2025-03-01", 34)
    for index, line in enumerate(ramp.segment_lines, start=1):
        ramp.segment_line(amendment, index, -line["Quantity"], term=34, SBQQ__RevisedOrderProduct__c=line["Id"])
    addon_line = ramp.builder.org["OrderItem"][3]
    ramp.builder.line(
        amendment, ramp.builder.org["PricebookEntry"][1], quantity=-2, SBQQ__RevisedOrderProduct__c=addon_line["Id"]
    )
    schedule = ramp.schedule()
    assert schedule.end_now == SCHEDULE_CANCEL


def test_f42_segment_dates_must_match_the_initial_order() -> None:
    ramp = _Ramp()
    amendment = ramp.amend("2025-04-01", 33)
    moved = ramp.segment_line(
        amendment, 2, 5, term=33, ServiceDate="2026-02-01", SBQQ__RevisedOrderProduct__c=ramp.segment_lines[1]["Id"]
    )
    (violation,) = ramp.assess().violations
    assert violation.sf_id == moved["Id"] and "segment dates do not match" in violation.message


def test_f42_the_contract_amendment_start_date_must_match() -> None:
    ramp = _Ramp()
    amendment = ramp.amend("2025-04-01", 33)
    ramp.segment_line(amendment, 2, 5, term=33, SBQQ__RevisedOrderProduct__c=ramp.segment_lines[1]["Id"])
    ramp.builder.contract_of(ramp.initial)["SBQQ__AmendmentStartDate__c"] = "2025-05-01"
    (violation,) = ramp.assess().violations
    assert violation.rule == "mdq_amendment_start" and violation.sf_id == amendment["Id"]
