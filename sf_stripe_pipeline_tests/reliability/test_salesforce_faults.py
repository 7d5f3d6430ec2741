"""Salesforce faults (issues 10.4, 12.7): an expired session logs in again and the run goes on; the daily API limit
stops the run at once, with the limit named in one line, and nothing more is sent; rows another transaction holds
are written once they are free; and whatever write-back does not happen is done by the next run."""

from __future__ import annotations

import pytest

from sf_stripe_pipeline.defs.salesforce.resources import SalesforceResource, SalesforceStop
from sf_stripe_pipeline_tests.reliability.conftest import CleanRun, Harness, patched_environment


def _answers(harness: Harness) -> list[int]:
    return [entry.status for entry in harness.salesforce.request_log()]


def test_expired_sessions_log_in_again_and_the_run_goes_on(harness: Harness, clean_run: CleanRun) -> None:
    summary = harness.sync(salesforce_faults={"session_expires_after_requests": 6})
    assert summary.success, summary.failure
    assert _answers(harness).count(401) >= 2, "sessions expired during extraction and write-back"
    assert harness.state().differences(clean_run.state) == []


def test_the_daily_api_limit_stops_the_run_at_once_and_names_the_limit(harness: Harness) -> None:
    """The extraction stops as the allowance runs out (the resource's usage guard, or the 403 itself), without
    retries, before anything is written; any request Salesforce refuses for the limit raises a one-line failure
    Dagster does not retry."""
    summary = harness.sync(salesforce_faults={"daily_api_limit": 5})
    assert not summary.success
    assert summary.stripe_writes == 0 and summary.salesforce_writes == 0
    answers = _answers(harness)
    assert len(answers) <= 6 and answers.count(403) <= 1, "stopped at the limit: no retries"

    with patched_environment(harness.environment(salesforce_faults={"daily_api_limit": 1})):
        client = SalesforceResource().get_client()
        with pytest.raises(SalesforceStop) as stopped:
            client.query("SELECT Id FROM Account LIMIT 1")
    message = str(stopped.value)
    assert "REQUEST_LIMIT_EXCEEDED" in message and "\n" not in message and not stopped.value.allow_retries


def test_the_daily_api_limit_during_write_back_leaves_the_ids_to_the_next_run(
    harness: Harness, clean_run: CleanRun
) -> None:
    # The clean run of the same org made this many reads before its first write (the coupon snapshots): the
    # allowance lets that write through and refuses the next, the first write-back.
    reads = next(n for n, entry in enumerate(clean_run.harness.salesforce.request_log()) if entry.is_write)
    limited = harness.sync(salesforce_faults={"daily_api_limit": reads + 1, "api_limit_applies_to": "writes"})
    assert not limited.success and limited.stripe_writes
    assert _answers(harness).count(403) == 1
    assert harness.sync().stripe_writes == 0, "the Stripe writes were all recorded"
    harness.settle()
    assert harness.state().differences(clean_run.state) == []


def test_locked_rows_are_written_once_free(harness: Harness, clean_run: CleanRun) -> None:
    summary = harness.sync(salesforce_faults={"lock_row_rate": 0.2, "seed": 4})
    assert summary.success
    assert harness.sync().salesforce_writes == 0, "every record was written in the first run"
    assert harness.state().differences(clean_run.state) == []
