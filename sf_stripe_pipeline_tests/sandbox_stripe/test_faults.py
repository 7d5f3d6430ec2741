"""Injected faults as Stripe sends them, through stripe-python's own error classes and retry logic: rate limits,
lock timeouts, the two kinds of 500 and what a retry with the same idempotency key gets, 409 for a key in use,
latency that overlaps, and faults configured for another process through the environment."""

from __future__ import annotations

import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import stripe

from sf_stripe_pipeline.sandbox.stripe import FAULTS_ENV_VAR, SANDBOX_API_KEY, FaultConfig, StripeSandbox
from sf_stripe_pipeline.sandbox.stripe import faults as faults_module
from sf_stripe_pipeline.sandbox.transport import serve

SHOULD_RETRY = "Stripe-Should-Retry"


def statuses(sandbox: StripeSandbox) -> list[int]:
    return [record.status for record in sandbox.request_log()]


def test_rate_limit_answer_is_stripes_and_not_retried_by_the_sdk(sandbox):
    sandbox.configure_faults(FaultConfig(rate_limit_error_rate=1.0))
    with pytest.raises(stripe.RateLimitError) as limited:
        sandbox.client(max_network_retries=3).v1.customers.list()
    assert limited.value.http_status == 429
    assert limited.value.json_body == {
        "error": {
            "type": "invalid_request_error",
            "code": "rate_limit",
            "message": "Request rate limit exceeded. Learn more about rate limits here "
            "https://stripe.com/docs/rate-limits.",
        }
    }
    assert SHOULD_RETRY not in limited.value.headers
    assert statuses(sandbox) == [429]  # stripe-python gives up at once on a rate limit without the header


def test_requests_per_second_limit_counts_only_accepted_requests(sandbox, client):
    sandbox.configure_faults(FaultConfig(requests_per_second=2))
    client.v1.customers.list()
    client.v1.customers.list()
    with pytest.raises(stripe.RateLimitError) as limited:
        client.v1.customers.list()
    assert limited.value.json_body["error"]["code"] == "rate_limit" and SHOULD_RETRY not in limited.value.headers


def test_lock_timeout_is_retried_by_the_sdk(sandbox):
    sandbox.configure_faults(FaultConfig(lock_timeout_rate=1.0))
    with pytest.raises(stripe.RateLimitError) as locked:
        sandbox.client(max_network_retries=1).v1.customers.create(params={"name": "Acme"})
    assert locked.value.json_body["error"]["code"] == "lock_timeout" and locked.value.headers[SHOULD_RETRY] == "true"
    assert statuses(sandbox) == [429, 429]  # the SDK retried once, as the header asks
    sandbox.client().v1.customers.list()  # reads are never lock timeouts
    assert statuses(sandbox)[-1] == 200


def test_before_execution_500_saves_nothing_and_a_retry_executes(sandbox, client):
    sandbox.configure_faults(FaultConfig(error_rate=1.0))
    with pytest.raises(stripe.APIError) as failed:
        client.v1.customers.create(params={"name": "Acme"}, options={"idempotency_key": "create-acme"})
    assert failed.value.http_status == 500 and failed.value.json_body["error"]["type"] == "api_error"
    assert failed.value.headers[SHOULD_RETRY] == "true"
    sandbox.configure_faults(None)
    assert client.v1.customers.list().data == []
    created = client.v1.customers.create(params={"name": "Acme"}, options={"idempotency_key": "create-acme"})
    assert "Idempotent-Replayed" not in created.last_response.headers


def test_after_execution_500_is_saved_and_replayed_for_24_hours(sandbox, pin_clock):
    sandbox.configure_faults(FaultConfig(error_after_execution_rate=1.0))
    retrying = sandbox.client(max_network_retries=3)
    options = {"idempotency_key": "create-acme"}
    with pytest.raises(stripe.APIError) as failed:
        retrying.v1.customers.create(params={"name": "Acme"}, options=options)
    assert failed.value.http_status == 500 and failed.value.headers[SHOULD_RETRY] == "false"
    assert statuses(sandbox) == [500]  # the header tells stripe-python a retry cannot help
    sandbox.configure_faults(None)
    client = sandbox.client()
    [customer] = client.v1.customers.list().data  # the endpoint executed: the customer exists
    assert customer.name == "Acme"

    with pytest.raises(stripe.APIError) as replayed:
        client.v1.customers.create(params={"name": "Acme"}, options=options)
    assert replayed.value.http_status == 500 and replayed.value.http_body == failed.value.http_body
    assert replayed.value.headers["Idempotent-Replayed"] == "true"
    assert replayed.value.headers[SHOULD_RETRY] == "false"

    pin_clock("2025-01-01T23:59:59")  # still within 24 h of the first request (2025-01-01T00:00)
    with pytest.raises(stripe.APIError):
        client.v1.customers.create(params={"name": "Acme"}, options=options)
    pin_clock("2025-01-02T00:00:00")  # the key is forgotten: the request executes anew
    again = client.v1.customers.create(params={"name": "Acme"}, options=options)
    assert "Idempotent-Replayed" not in again.last_response.headers
    assert len(client.v1.customers.list().data) == 2


def test_successful_responses_expire_after_24_hours_too(client, pin_clock):
    first = client.v1.products.create(params={"name": "P"}, options={"idempotency_key": "p"})
    pin_clock("2025-01-01T12:00")
    assert client.v1.products.create(params={"name": "P"}, options={"idempotency_key": "p"}).id == first.id
    pin_clock("2025-01-02T00:00")
    assert client.v1.products.create(params={"name": "P"}, options={"idempotency_key": "p"}).id != first.id


def test_concurrent_request_with_the_same_key_gets_409(sandbox, client, monkeypatch):
    """The first request is held inside its latency (a patched sleep) while the second arrives."""
    sandbox.configure_faults(FaultConfig(latency_seconds=0.01))
    first_waiting, release_first = threading.Event(), threading.Event()

    def held_sleep(seconds: float) -> None:
        if not first_waiting.is_set():
            first_waiting.set()
            assert release_first.wait(10)

    monkeypatch.setattr(faults_module.time, "sleep", held_sleep)
    options = {"idempotency_key": "create-acme"}
    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(lambda: sandbox.client().v1.customers.create(params={"name": "Acme"}, options=options))
        assert first_waiting.wait(10)
        with pytest.raises(stripe.APIError) as in_use:
            client.v1.customers.create(params={"name": "Acme"}, options=options)
        release_first.set()
        created = first.result(timeout=10)
    assert in_use.value.http_status == 409 and in_use.value.json_body["error"]["code"] == "idempotency_key_in_use"
    assert in_use.value.headers[SHOULD_RETRY] == "true"
    retried = client.v1.customers.create(params={"name": "Acme"}, options=options)
    assert retried.id == created.id and retried.last_response.headers["Idempotent-Replayed"] == "true"


@pytest.mark.parametrize("over_loopback", [False, True], ids=["in-process", "loopback"])
def test_latency_does_not_hold_the_store(sandbox, monkeypatch, over_loopback):
    """Ten requests in flight must all be inside their latency at once: a barrier in place of the sleep breaks
    (and the requests fail) if latency were served one request at a time."""
    in_flight = 10
    barrier = threading.Barrier(in_flight, timeout=20)
    with serve(sandbox) as server:
        monkeypatch.setattr(faults_module.time, "sleep", lambda seconds: barrier.wait())
        sandbox.configure_faults(FaultConfig(latency_seconds=0.2))

        def client() -> stripe.StripeClient:
            if over_loopback:
                return stripe.StripeClient(SANDBOX_API_KEY, base_addresses={"api": server.url})
            return sandbox.client()

        with ThreadPoolExecutor(max_workers=in_flight) as pool:
            names = list(pool.map(lambda n: client().v1.customers.create(params={"name": f"c{n}"}).name, range(10)))
    assert sorted(names) == sorted(f"c{n}" for n in range(10))
    assert not barrier.broken


def test_reliability_mix_is_seeded_and_refuses_in_proportion(sandbox):
    sandbox.configure_faults(FaultConfig(rate_limit_error_rate=0.3, error_rate=0.05, seed=7))
    client = sandbox.client()
    outcomes = {"ok": 0, "429": 0, "500": 0}
    for _ in range(400):
        try:
            client.v1.customers.list(params={"limit": 1})
            outcomes["ok"] += 1
        except stripe.RateLimitError:
            outcomes["429"] += 1
        except stripe.APIError:
            outcomes["500"] += 1
    assert 90 <= outcomes["429"] <= 150  # 30 % of 400 = 120
    assert 5 <= outcomes["500"] <= 30  # 5 % of the remaining 280 = 14
    assert sum(outcomes.values()) == 400 == len(sandbox.request_log())


def test_only_paths_limits_faults_to_one_endpoint(sandbox, client):
    sandbox.configure_faults(FaultConfig(error_rate=1.0, only_paths=("/v1/subscription_schedules",)))
    client.v1.customers.create(params={"name": "Acme"})
    with pytest.raises(stripe.APIError):
        client.v1.subscription_schedules.list()


def test_faults_from_the_environment(tmp_path, monkeypatch):
    config = FaultConfig(error_rate=1.0, only_paths=("/v1/products",))
    assert FaultConfig.from_json(config.to_json()) == config
    monkeypatch.setenv(FAULTS_ENV_VAR, config.to_json())
    faulted = StripeSandbox(tmp_path / "stripe")
    assert faulted.faults == config
    with pytest.raises(stripe.APIError):
        faulted.client().v1.products.create(params={"name": "P"})
    explicit = StripeSandbox(tmp_path / "stripe", faults=FaultConfig())
    assert explicit.client().v1.products.create(params={"name": "P"}).name == "P"
    monkeypatch.setenv(FAULTS_ENV_VAR, '{"eror_rate": 1}')
    with pytest.raises(ValueError, match="eror_rate"):
        StripeSandbox(tmp_path / "stripe")
    faulted.close()
    explicit.close()


def test_fail_after_writes_counts_across_processes(tmp_path, monkeypatch):
    """Two writes here and one in a child process (faulted through the environment) use up the three allowed."""
    root = tmp_path / "stripe"
    monkeypatch.setenv(FAULTS_ENV_VAR, FaultConfig(fail_after_writes=3).to_json())
    sandbox = StripeSandbox(root)
    client = sandbox.client()
    client.v1.customers.create(params={"name": "one"})
    client.v1.customers.create(params={"name": "two"})
    child = (
        "import sys, stripe\n"
        "from sf_stripe_pipeline.sandbox.stripe import StripeSandbox\n"
        "client = StripeSandbox(sys.argv[1]).client()\n"
        "client.v1.customers.create(params={'name': 'three'})\n"
        "try:\n"
        "    client.v1.customers.create(params={'name': 'four'})\n"
        "except stripe.APIError as error:\n"
        "    print(error.http_status)\n"
    )
    result = subprocess.run([sys.executable, "-c", child, str(root)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "500"
    with pytest.raises(stripe.APIError):
        client.v1.customers.create(params={"name": "five"})
    assert sorted(customer.name for customer in client.v1.customers.list().data) == ["one", "three", "two"]
    sandbox.configure_faults(FaultConfig(fail_after_writes=1))  # a new configuration restarts the count
    client.v1.customers.create(params={"name": "six"})
    sandbox.close()
