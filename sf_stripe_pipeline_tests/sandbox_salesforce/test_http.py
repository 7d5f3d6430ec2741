"""Auth, limits, describe and routing; and the same sandbox served over loopback HTTP."""

from __future__ import annotations

import pytest
import requests
from simple_salesforce.exceptions import SalesforceExpiredSession, SalesforceGeneralError

from sf_stripe_pipeline.sandbox.salesforce import API_VERSION
from sf_stripe_pipeline.sandbox.transport import serve

from .conftest import ACME, error_code

API = f"/services/data/v{API_VERSION}"
AUTH = {"Authorization": "Bearer local-token"}


def test_requests_without_a_token_are_refused(sandbox) -> None:
    with pytest.raises(SalesforceExpiredSession) as raised:
        sandbox.client(session_id="").query("SELECT Id FROM Account")
    assert raised.value.content == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


def test_limit_info_header_feeds_api_usage_and_limits(sf) -> None:
    sf.query("SELECT Id FROM Account")
    sf.query("SELECT Id FROM Order")
    assert sf.api_usage["api-usage"].used == 2 and sf.api_usage["api-usage"].total == 15000
    limits = sf.limits()
    assert limits["DailyApiRequests"] == {"Max": 15000, "Remaining": 15000 - 3}


def test_describe_reports_the_catalogue(sf) -> None:
    describe = sf.OrderItem.describe()
    assert (describe["name"], describe["keyPrefix"]) == ("OrderItem", "802")
    fields = {field["name"]: field for field in describe["fields"]}
    assert fields["OrderId"]["referenceTo"] == ["Order"] and fields["OrderId"]["relationshipName"] == "Order"
    assert fields["SBQQ__QuoteLine__c"]["relationshipName"] == "SBQQ__QuoteLine__r"
    assert {"value": "Arrears", "label": "Arrears", "active": True, "defaultValue": False} in fields[
        "SBQQ__BillingType__c"
    ]["picklistValues"]
    assert fields["Stripe_ID__c"]["externalId"] is True and fields["Quantity"]["externalId"] is False
    assert fields["Quantity"]["nillable"] is True and fields["Id"]["nillable"] is False


def test_wrong_method_is_405(sf) -> None:
    with pytest.raises(SalesforceGeneralError) as raised:
        sf.restful(f"sobjects/Account/{ACME}", method="POST", json={})
    assert raised.value.status == 405
    assert error_code(raised) == "METHOD_NOT_ALLOWED"


def test_loopback_server_answers_plain_http_requests(sandbox) -> None:
    with serve(sandbox) as server:
        answer = requests.get(
            f"{server.url}{API}/query", params={"q": "SELECT Name FROM Account WHERE Id = '" + ACME + "'"}, headers=AUTH
        )
        assert answer.status_code == 200
        assert answer.json()["records"][0]["Name"] == "Acme"
        assert answer.headers["Sforce-Limit-Info"] == "api-usage=1/15000"

        created = requests.post(f"{server.url}{API}/sobjects/Account", json={"Name": "Over HTTP"}, headers=AUTH)
        assert created.status_code == 201 and created.json()["success"] is True

        unauthorised = requests.get(f"{server.url}{API}/limits")
        assert unauthorised.status_code == 401
        assert unauthorised.json()[0]["errorCode"] == "INVALID_SESSION_ID"

        missing = requests.get(f"{server.url}{API}/nothing/here", headers=AUTH)
        assert missing.status_code == 404 and missing.json()[0]["errorCode"] == "NOT_FOUND"
    assert [entry.status for entry in sandbox.request_log()] == [200, 201, 401, 404]
