"""The `sandbox` commands, driven through `main([...])`, and the sandboxes checked through the real clients."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
import requests

from sf_stripe_pipeline import home
from sf_stripe_pipeline.cli import main
from sf_stripe_pipeline.sandbox.demo_org import DemoCase, demo_case_counts
from sf_stripe_pipeline.sandbox.salesforce import API_VERSION, SalesforceSandbox
from sf_stripe_pipeline.sandbox.snapshot import read_snapshot
from sf_stripe_pipeline.sandbox.stripe import SANDBOX_API_KEY, StripeSandbox
from sf_stripe_pipeline_tests.sandbox_demo.conftest import AS_OF, SMALL_ORDERS

RESET = ["sandbox", "reset", "--orders", str(SMALL_ORDERS), "--as-of", AS_OF.isoformat()]


@pytest.fixture
def salesforce(sandbox_home: Path) -> Iterator[SalesforceSandbox]:
    """The CLI's Salesforce sandbox, opened after the command ran."""
    sandbox = SalesforceSandbox(home.salesforce_sandbox_dir())
    yield sandbox
    sandbox.close()


def _stripe_customer_count() -> int:
    with closing(StripeSandbox(home.stripe_sandbox_dir())) as stripe_sandbox:
        return len(stripe_sandbox.client().v1.customers.list(params={"limit": 100}).data)


def test_reset_loads_a_queryable_demo_org_and_empties_stripe(sandbox_home: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    with closing(StripeSandbox(home.stripe_sandbox_dir())) as stripe_sandbox:
        stripe_sandbox.client().v1.customers.create(params={"name": "Left over"})
    assert _stripe_customer_count() == 1

    assert main(RESET) == 0

    output = capsys.readouterr().out
    assert re.search(rf"^  Order\s+{SMALL_ORDERS}$", output, re.MULTILINE)
    assert f"demo org of {SMALL_ORDERS} orders, seed 7, as of {AS_OF.isoformat()}" in output
    assert "invalid_no_quote 1" in output and re.search(r"Done in \d+\.\d\d s", output)
    assert _stripe_customer_count() == 0
    with closing(SalesforceSandbox(home.salesforce_sandbox_dir())) as salesforce:
        client = salesforce.client()
        activated = client.query("SELECT Id FROM Order WHERE Status = 'Activated'")
        amendments = client.query_all(
            "SELECT Id, Opportunity.SBQQ__AmendedContract__c FROM Order "
            "WHERE Opportunity.SBQQ__AmendedContract__c != null"
        )
    expected = demo_case_counts(SMALL_ORDERS)
    assert activated["totalSize"] == SMALL_ORDERS
    assert amendments["totalSize"] == sum(count for case, count in expected.items() if case in {
        DemoCase.AMENDMENT_QUANTITY_UP, DemoCase.AMENDMENT_QUANTITY_DOWN, DemoCase.AMENDMENT_ADD_PRODUCT,
        DemoCase.AMENDMENT_TERMINATION, DemoCase.EVERGREEN_CANCELLATION,
        DemoCase.INVALID_EVERGREEN_PARTIAL_CANCELLATION})


def test_reset_defaults_to_the_sandbox_clock_and_is_repeatable(sandbox_home: Path, tmp_path: Path) -> None:
    assert main(["sandbox", "reset", "--orders", str(SMALL_ORDERS)]) == 0
    assert main(["sandbox", "export-org", str(tmp_path / "first")]) == 0
    assert main(RESET) == 0  # the pinned clock's date is AS_OF
    assert main(["sandbox", "export-org", str(tmp_path / "second")]) == 0
    first, second = read_snapshot(tmp_path / "first"), read_snapshot(tmp_path / "second")
    assert Counter(order["ActivatedDate"][:10] for order in first["Order"])[AS_OF.isoformat()] >= 1
    assert first == second


def test_export_then_load_org_restores_the_exported_org(sandbox_home: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(RESET) == 0
    assert main(["sandbox", "export-org", str(tmp_path / "exported")]) == 0
    assert main(["sandbox", "reset", "--orders", "40", "--seed", "8"]) == 0
    capsys.readouterr()

    assert main(["sandbox", "load-org", str(tmp_path / "exported")]) == 0

    assert re.search(rf"^  Order\s+{SMALL_ORDERS}$", capsys.readouterr().out, re.MULTILINE)
    assert main(["sandbox", "export-org", str(tmp_path / "again")]) == 0
    assert read_snapshot(tmp_path / "again") == read_snapshot(tmp_path / "exported")


def test_load_org_errors_exit_2_and_keep_the_previous_org(sandbox_home: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(RESET) == 0
    assert main(["sandbox", "export-org", str(tmp_path / "snapshot")]) == 0
    broken = tmp_path / "snapshot" / "OrderItem.json"
    broken.write_text(broken.read_text(encoding="utf-8").replace('"Quantity": ', '"Quantity": "x" or ', 1),
                      encoding="utf-8")
    capsys.readouterr()

    assert main(["sandbox", "load-org", str(tmp_path / "snapshot")]) == 2

    error = capsys.readouterr().err
    assert "OrderItem.json: not valid JSON at line 2" in error and "previous org" in error
    with closing(SalesforceSandbox(home.salesforce_sandbox_dir())) as salesforce:
        assert salesforce.client().query("SELECT Id FROM Order")["totalSize"] == SMALL_ORDERS


@pytest.mark.parametrize(("arguments", "complaint"), [
    (["sandbox", "reset", "--orders", "5"], "--orders must be at least 28"),
    (["sandbox", "reset", "--as-of", "10/03/2025"], "expected a date like 2025-03-10"),
    (["sandbox", "serve", "--port", "http"], "--port must be 0"),
    (["sandbox"], "ACTION"),
])
def test_bad_arguments_are_usage_errors(arguments: list[str], complaint: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(arguments)
    assert exited.value.code == 2
    assert complaint in capsys.readouterr().err


def test_serve_answers_both_apis_over_loopback_until_interrupted(sandbox_home: Path) -> None:
    assert main(RESET) == 0
    process = subprocess.Popen(
        [sys.executable, "-m", "sf_stripe_pipeline.cli", "sandbox", "serve", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy(),
    )
    try:
        banner = []
        for line in process.stdout:  # type: ignore[union-attr]
            banner.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        urls = dict(re.findall(r"^(Stripe|Salesforce) sandbox:\s+(http://127\.0\.0\.1:\d+)$", "".join(banner),
                               re.MULTILINE))
        customers = requests.get(f"{urls['Stripe']}/v1/customers",
                                 headers={"Authorization": f"Bearer {SANDBOX_API_KEY}"}, timeout=10)
        orders = requests.get(
            f"{urls['Salesforce']}/services/data/v{API_VERSION}/query",
            params={"q": "SELECT Id FROM Order"}, headers={"Authorization": "Bearer sandbox"}, timeout=10,
        )
        assert (customers.status_code, customers.json()["object"]) == (200, "list")
        assert (orders.status_code, orders.json()["totalSize"]) == (200, SMALL_ORDERS)
        assert "client.v1.customers.list" in "".join(banner)
    finally:
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=20)
    assert process.returncode == 0, stderr
    assert "Stopped." in stdout


def _extracted_order_ids() -> set[str]:
    import duckdb

    with duckdb.connect(str(home.warehouse_path()), read_only=True) as conn:
        return {row[0] for row in conn.execute('SELECT "Id" FROM salesforce."Order"').fetchall()}


def _sandbox_order_ids() -> set[str]:
    with closing(SalesforceSandbox(home.salesforce_sandbox_dir())) as salesforce:
        return {order["Id"] for order in salesforce.client().query_all("SELECT Id FROM Order")["records"]}


def test_replacing_the_org_keeps_the_warehouse_true_to_it(sandbox_home: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """The warehouse extracts incrementally, from a watermark: after `load-org` of an older snapshot it would skip
    the snapshot's records and keep the previous org's. `reset` removes the warehouse; `load-org` drops its copy of
    the org, so the next sync extracts the loaded org whole."""
    assert main(RESET) == 0
    assert main(["sandbox", "export-org", str(tmp_path / "first")]) == 0
    assert main(["sync", "--dry-run"]) == 0
    assert _extracted_order_ids() == _sandbox_order_ids()

    assert main(["sandbox", "reset", "--orders", "28", "--seed", "8"]) == 0
    assert not home.warehouse_path().exists()
    assert main(["sync", "--dry-run"]) == 0
    second_org = _sandbox_order_ids()
    assert _extracted_order_ids() == second_org

    capsys.readouterr()
    assert main(["sandbox", "load-org", str(tmp_path / "first")]) == 0
    assert "the next sync extracts this org whole" in capsys.readouterr().out
    assert main(["sync", "--dry-run"]) == 0
    first_org = _sandbox_order_ids()
    assert first_org != second_org
    assert _extracted_order_ids() == first_org
