"""Injected faults as simple-salesforce meets them: expired sessions and logging in again, the daily API allowance,
internal errors and locked rows; configured per sandbox or through `SF_STRIPE_SALESFORCE_FAULTS`."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime

import pytest
import simple_salesforce
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
)

from sf_stripe_pipeline.clock import NOW_ENV_VAR
from sf_stripe_pipeline.sandbox import transport
from sf_stripe_pipeline.sandbox.salesforce import FAULTS_ENV_VAR, FaultConfig, FaultConfigError, SalesforceSandbox
from sf_stripe_pipeline.sandbox.salesforce import auth

from .conftest import ACME, GAMMA, error_code, sf_id, small_org

EXPIRED = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
ACCOUNT_IDS = "SELECT Id FROM Account"


def statuses(sandbox: SalesforceSandbox) -> list[int]:
    return [entry.status for entry in sandbox.request_log()]


def account_count(sf) -> int:
    return sf.query("SELECT Id FROM Account")["totalSize"]


# ---------------------------------------------------------------------------------------------- sessions


def test_a_logged_in_client_logs_in_again_when_its_session_expires(sandbox) -> None:
    sandbox.configure_faults(FaultConfig(session_expires_after_requests=2))
    sf = sandbox.client()
    assert sandbox.logins == 1

    for _ in range(5):
        assert sf.query(ACCOUNT_IDS)["totalSize"] == 4

    # Each token answers two requests; the third gets 401, simple-salesforce logs in and repeats the request.
    assert statuses(sandbox) == [200, 200, 401, 200, 200, 401, 200]
    assert sandbox.logins == 3
    assert sf.api_usage["api-usage"].used == 7  # the refused requests count, the logins do not


def test_a_paginated_query_continues_across_a_new_login(sandbox) -> None:
    sandbox.replace_org({"Account": [{"Id": sf_id("Account", n), "Name": f"A{n}"} for n in range(1, 2502)]})
    sandbox.configure_faults(FaultConfig(session_expires_after_requests=1))
    sf = sandbox.client()
    assert sum(1 for _ in sf.query_all_iter(ACCOUNT_IDS)) == 2501  # the query cursor outlives the session
    first_page, refused, retried = sandbox.request_log()
    assert (first_page.status, refused.status, retried.status) == (200, 401, 200)
    assert refused.path == retried.path != first_page.path  # the next page, asked again with the new session
    assert sandbox.logins == 2


def test_a_client_given_only_a_token_stays_refused_until_someone_logs_in(sandbox) -> None:
    sandbox.configure_faults(FaultConfig(session_expires_after_requests=1))
    fixed = sandbox.client(session_id="a-fixed-token")
    fixed.query(ACCOUNT_IDS)
    for _ in range(2):  # the token stays invalid: no amount of retrying with it helps
        with pytest.raises(SalesforceExpiredSession) as raised:
            fixed.query(ACCOUNT_IDS)
        assert raised.value.status == 401 and raised.value.content == EXPIRED

    assert sandbox.client().query(ACCOUNT_IDS)["totalSize"] == 4  # a new login gets a new session
    assert statuses(sandbox) == [200, 401, 401, 200]


def test_sessions_issued_before_the_expiry_moment_stop_working_then(sandbox, monkeypatch) -> None:
    sandbox.configure_faults(FaultConfig(session_expires_at=datetime(2025, 6, 1, 13, 0, tzinfo=UTC)))
    logged_in, fixed = sandbox.client(), sandbox.client(session_id="a-fixed-token")
    assert logged_in.query(ACCOUNT_IDS)["totalSize"] == fixed.query(ACCOUNT_IDS)["totalSize"] == 4

    monkeypatch.setenv(NOW_ENV_VAR, "2025-06-01T13:00:00Z")
    with pytest.raises(SalesforceExpiredSession):
        fixed.query(ACCOUNT_IDS)
    assert logged_in.query(ACCOUNT_IDS)["totalSize"] == 4
    assert logged_in.query(ACCOUNT_IDS)["totalSize"] == 4  # the new session, issued at 13:00, stays valid
    assert statuses(sandbox) == [200, 200, 401, 401, 200, 200]
    assert sandbox.logins == 2


def login(sandbox, **credentials) -> simple_salesforce.Salesforce:
    return simple_salesforce.Salesforce(
        **credentials, domain=auth.LOGIN_DOMAIN, session=transport.in_process_session(sandbox)
    )


def test_the_token_endpoint_checks_credentials_like_an_org(sandbox) -> None:
    app = {"consumer_key": auth.CONSUMER_KEY, "consumer_secret": auth.CONSUMER_SECRET}
    with pytest.raises(SalesforceAuthenticationFailed) as raised:
        login(sandbox, username=auth.USERNAME, password="wrong", **app)
    assert (raised.value.code, raised.value.auth_message) == ("invalid_grant", "authentication failure")
    with pytest.raises(SalesforceAuthenticationFailed) as raised:
        login(sandbox, username=auth.USERNAME, password=auth.PASSWORD, consumer_key="other", consumer_secret="x")
    assert raised.value.code == "invalid_client_id"
    with pytest.raises(SalesforceAuthenticationFailed) as raised:
        login(sandbox, consumer_key=auth.CONSUMER_KEY, consumer_secret="wrong")  # client credentials flow
    assert raised.value.code == "invalid_client"
    assert sandbox.logins == 0

    client_credentials = login(sandbox, **app)
    assert client_credentials.session_id.startswith(auth.ORG_ID[:15] + "!")
    assert client_credentials.query(ACCOUNT_IDS)["totalSize"] == 4
    assert sandbox.logins == 1 and statuses(sandbox) == [200]  # logins are not API requests


# ---------------------------------------------------------------------------------------------- API allowance


def test_the_daily_api_limit_refuses_requests_once_reached(sandbox) -> None:
    sandbox.configure_faults(FaultConfig(daily_api_limit=3))
    sf = sandbox.client()
    for _ in range(3):
        sf.query(ACCOUNT_IDS)
    assert tuple(sf.api_usage["api-usage"]) == (3, 3)

    with pytest.raises(SalesforceRefusedRequest) as raised:
        sf.query(ACCOUNT_IDS)
    assert raised.value.status == 403
    assert raised.value.content == [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    with pytest.raises(SalesforceRefusedRequest):
        sf.Account.create({"Name": "Too late"})

    refused = sf.session.get(sf.base_url + "limits/", headers=sf.headers)  # the same header on the refusal
    assert refused.status_code == 403 and refused.headers["Sforce-Limit-Info"] == "api-usage=6/3"
    assert statuses(sandbox) == [200, 200, 200, 403, 403, 403]


def test_the_api_limit_can_refuse_only_writes(sandbox) -> None:
    sandbox.configure_faults(FaultConfig(daily_api_limit=2, api_limit_applies_to="writes"))
    sf = sandbox.client()
    sf.query(ACCOUNT_IDS)
    sf.Account.create({"Name": "Second request"})
    with pytest.raises(SalesforceRefusedRequest) as raised:
        sf.Account.create({"Name": "Third request"})
    assert error_code(raised) == "REQUEST_LIMIT_EXCEEDED"
    assert account_count(sf) == 5
    assert sf.limits()["DailyApiRequests"] == {"Max": 2, "Remaining": -3}
    assert statuses(sandbox) == [200, 201, 403, 200, 200]


# ---------------------------------------------------------------------------------------------- internal errors


def query_outcomes(sandbox: SalesforceSandbox, count: int) -> list[str]:
    sf = sandbox.client()
    outcomes = []
    for _ in range(count):
        try:
            sf.query(ACCOUNT_IDS)
            outcomes.append("ok")
        except SalesforceGeneralError as error:
            assert error.status == 500 and error.content[0]["errorCode"] == "UNKNOWN_EXCEPTION"
            assert error.content[0]["message"].startswith(
                "An unexpected error occurred. Please include this ErrorId if you contact support: "
            )
            outcomes.append("500")
    return outcomes


def test_reads_fail_at_the_configured_rate_and_writes_do_not(sandbox, tmp_path) -> None:
    faults = FaultConfig(read_error_rate=0.5, seed=7)
    sandbox.configure_faults(faults)
    outcomes = query_outcomes(sandbox, 40)
    assert 10 <= outcomes.count("500") <= 30

    sf = sandbox.client()
    for number in range(10):
        assert sf.Account.create({"Name": f"Written {number}"})["success"] is True

    other = SalesforceSandbox(tmp_path / "other", faults)
    other.replace_org(small_org())
    assert query_outcomes(other, 40) == outcomes  # the seed makes the failures repeatable
    other.close()


def test_writes_fail_after_n_successful_writes(sandbox) -> None:
    sandbox.configure_faults(FaultConfig(fail_after_writes=2))
    sf = sandbox.client()
    sf.Account.create({"Name": "One"})
    sf.Account.update(ACME, {"BillingCity": "Lyon"})
    with pytest.raises(SalesforceGeneralError) as raised:
        sf.Account.create({"Name": "Three"})
    assert raised.value.status == 500 and error_code(raised) == "UNKNOWN_EXCEPTION"
    with pytest.raises(SalesforceGeneralError):
        sf.restful("composite/sobjects", method="POST", json={"records": [{"attributes": {"type": "Account"}}]})
    assert account_count(sf) == 5  # refused before anything was written; reads still work


# ---------------------------------------------------------------------------------------------- locked rows


def update_cities(sf, all_or_none: bool) -> list[dict]:
    records = [
        {"attributes": {"type": "Account"}, "Id": record_id, "BillingCity": "Nantes"} for record_id in (ACME, GAMMA)
    ]
    return sf.restful("composite/sobjects", method="PATCH", json={"allOrNone": all_or_none, "records": records})


def city(sf, record_id: str) -> str:
    return sf.Account.get(record_id)["BillingCity"]


def test_a_locked_record_fails_alone_in_a_composite_write(sandbox) -> None:
    sandbox.configure_faults(FaultConfig(lock_row_ids=frozenset({ACME[:15]})))  # a 15-character id works too
    sf = sandbox.client()

    results = update_cities(sf, all_or_none=False)
    assert results[0] == {
        "id": ACME,
        "success": False,
        "errors": [
            {
                "statusCode": "UNABLE_TO_LOCK_ROW",
                "message": f"unable to obtain exclusive access to this record or 1 records: {ACME}",
                "fields": [],
            }
        ],
    }
    assert results[1] == {"id": GAMMA, "success": True, "errors": []}
    assert (city(sf, ACME), city(sf, GAMMA)) == ("Paris", "Nantes")

    sf.Account.update(GAMMA, {"BillingCity": "Berlin"})
    rolled_back = update_cities(sf, all_or_none=True)
    assert [r["errors"][0]["statusCode"] for r in rolled_back] == [
        "UNABLE_TO_LOCK_ROW",
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    ]
    assert city(sf, GAMMA) == "Berlin"

    with pytest.raises(SalesforceMalformedRequest) as raised:  # a single-record write gets the error as a 400
        sf.Account.update(ACME, {"BillingCity": "Nantes"})
    assert error_code(raised) == "UNABLE_TO_LOCK_ROW"
    with pytest.raises(SalesforceMalformedRequest):
        sf.Account.delete(ACME)
    assert city(sf, ACME) == "Paris"


def test_records_lock_at_the_configured_rate(sandbox) -> None:
    sandbox.configure_faults(FaultConfig(lock_row_rate=0.3, seed=3))
    sf = sandbox.client()
    records = [{"attributes": {"type": "Account"}, "Name": f"Bulk {n}"} for n in range(100)]
    results = sf.restful("composite/sobjects", method="POST", json={"allOrNone": False, "records": records})
    failed = [result for result in results if not result["success"]]
    assert 15 <= len(failed) <= 45
    assert {error["statusCode"] for result in failed for error in result["errors"]} == {"UNABLE_TO_LOCK_ROW"}
    assert all("id" not in result for result in failed)  # a record that was not created has no id
    assert account_count(sf) == 4 + 100 - len(failed)


# ---------------------------------------------------------------------------------------------- configuration


def test_faults_come_from_the_environment_unless_given(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(FAULTS_ENV_VAR, json.dumps({"read_error_rate": 1.0}))
    faulted = SalesforceSandbox(tmp_path / "salesforce")
    assert faulted.faults == FaultConfig(read_error_rate=1.0)
    with pytest.raises(SalesforceGeneralError):
        faulted.client().query(ACCOUNT_IDS)
    faulted.close()

    healthy = SalesforceSandbox(tmp_path / "salesforce", FaultConfig())
    assert healthy.client().query(ACCOUNT_IDS)["totalSize"] == 0
    healthy.close()


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('{"read_error_rate": 2}', "read_error_rate: Input should be less than or equal to 1"),
        ('{"colour": "red"}', "colour: Extra inputs are not permitted"),
        ('{"lock_row_ids": ["nope"]}', "not Salesforce record ids: nope"),
        ('{"session_expires_at": "2025-06-01T13:00:00"}', "session_expires_at"),  # needs a time zone
        ("read_error_rate=1", "Invalid JSON"),
    ],
)
def test_invalid_fault_settings_are_refused_in_one_line(tmp_path, monkeypatch, text: str, named: str) -> None:
    monkeypatch.setenv(FAULTS_ENV_VAR, text)
    with pytest.raises(FaultConfigError) as raised:
        SalesforceSandbox(tmp_path / "salesforce")
    message = str(raised.value)
    assert message.startswith(f"{FAULTS_ENV_VAR}: invalid Salesforce sandbox faults: ") and "\n" not in message
    assert named in message


def test_fault_settings_round_trip_through_the_variable_format() -> None:
    faults = FaultConfig(session_expires_after_requests=5, lock_row_ids=frozenset({ACME}), api_limit_applies_to="reads")
    assert json.loads(faults.to_json()) == {
        "session_expires_after_requests": 5,
        "lock_row_ids": [ACME],
        "api_limit_applies_to": "reads",
    }
    assert FaultConfig.from_json(faults.to_json()) == faults


CHILD = """
import sys
from simple_salesforce.exceptions import SalesforceError
from sf_stripe_pipeline.sandbox.salesforce import SalesforceSandbox
sf = SalesforceSandbox(sys.argv[1]).client()
try:
    print(sf.query("SELECT Id FROM Account")["totalSize"])
except SalesforceError as error:
    print(error.status, error.content[0]["errorCode"])
"""


def test_a_child_process_is_faulted_through_the_environment(sandbox, tmp_path, monkeypatch) -> None:
    root = str(tmp_path / "salesforce")  # the fixture's sandbox folder, opened again by another process

    def child() -> str:
        return subprocess.run([sys.executable, "-c", CHILD, root], capture_output=True, text=True, check=True).stdout

    assert child().strip() == "4"
    monkeypatch.setenv(FAULTS_ENV_VAR, FaultConfig(daily_api_limit=1).to_json())
    assert child().strip() == "403 REQUEST_LIMIT_EXCEEDED"  # the log already holds the first child's request
