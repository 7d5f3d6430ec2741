"""Loading the sync configuration: the demo file loads, and every kind of mistake names its key and reason."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from sf_stripe_pipeline.core.config import ConfigError, load_config

DEMO_CONFIG = Path(__file__).resolve().parents[2] / "sf_stripe.yaml"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sync.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _problems(tmp_path: Path, text: str) -> tuple[str, dict[str, str]]:
    with pytest.raises(ConfigError) as raised:
        load_config(_write(tmp_path, text))
    return str(raised.value), dict(raised.value.problems)


def test_demo_config_loads_with_its_mappings() -> None:
    config = load_config(DEMO_CONFIG)
    assert config.start_date == date(2026, 9, 1)
    assert config.filters == {"Order": "Status = 'Activated'"}
    assert config.field_mappings["customer"] == {"email": "Email__c"}
    assert config.field_mappings["subscription_schedule"] == {
        "default_settings.invoice_settings.days_until_due": "SBQQ__PaymentTerm__c"
    }
    assert config.field_defaults["subscription_schedule"] == {"default_settings.collection_method": "send_invoice"}
    assert config.field_defaults["customer"] == {"metadata.source": "salesforce"}
    assert config.live_sync.enabled is False
    assert config.limits.max_operations_per_run == 50_000


def test_minimal_config_takes_the_defaults(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, "start_date: 2025-02-01\n"))
    assert config.default_currency == "USD"
    assert config.filters == {"Order": "Status = 'Activated'"}
    assert config.retention.salesforce_sync_records == 10_000
    assert config.live_sync.interval_minutes == 15


@pytest.mark.parametrize(
    ("text", "key_path", "reason"),
    [
        ("start_date: 2025-01-01\nlivesync: {enabled: true}\n", "livesync", "Extra inputs are not permitted"),
        (
            "start_date: 2025-01-01\nlimits: {max_operations_per_run: lots}\n",
            "limits.max_operations_per_run",
            "valid integer",
        ),
        (
            "start_date: 2025-01-01\nlive_sync: {interval_minutes: 5000}\n",
            "live_sync.interval_minutes",
            "less than or equal to 1440",
        ),
        ("default_currency: USD\n", "start_date", "Field required"),
        (
            "start_date: 2025-01-01\nfield_mappings: {customer: {emial: Email__c}}\n",
            "field_mappings.customer.emial",
            "unknown Stripe parameter 'emial'",
        ),
        (
            "start_date: 2025-01-01\nfield_mappings: {customers: {email: Email__c}}\n",
            "field_mappings.customers",
            "unknown mapping target",
        ),
        (
            "start_date: 2025-01-01\nfield_mappings: {customer: {email: Emial__c}}\n",
            "field_mappings.customer.email",
            "Account has no field 'Emial__c'",
        ),
        (
            "start_date: 2025-01-01\nfield_mappings: {subscription_schedule: {metadata.owner: Name.Owner}}\n",
            "field_mappings.subscription_schedule.metadata.owner",
            "Order.NameId is not a lookup field",
        ),
        (
            "start_date: 2025-01-01\nfield_mappings: {customer: {metadata.modified: SystemModstamp}}\n",
            "field_mappings.customer.metadata.modified",
            "'SystemModstamp' is a change stamp",
        ),
        (
            "start_date: 2025-01-01\nfield_mappings: {subscription_item: {metadata.touched: OrderId.LastModifiedDate}}\n",
            "field_mappings.subscription_item.metadata.touched",
            "'OrderId.LastModifiedDate' is a change stamp",
        ),
        (
            "start_date: 2025-01-01\nfield_defaults: {subscription_phase: {items.quantity: 1}}\n",
            "field_defaults.subscription_phase.items.quantity",
            "set by the sync itself",
        ),
        ('start_date: 2025-01-01\nfilters: {Order: "Status = "}\n', "filters.Order", "invalid SOQL filter"),
        ("start_date: 2025-01-01\nfilters: {Order: \"Colour__c = 'red'\"}\n", "filters.Order", "invalid SOQL filter"),
        (
            "start_date: 2025-01-01\nfilters: {Orders: \"Status = 'Activated'\"}\n",
            "filters.Orders",
            "unknown Salesforce object",
        ),
    ],
)
def test_errors_name_the_file_the_key_and_the_reason(tmp_path: Path, text: str, key_path: str, reason: str) -> None:
    message, problems = _problems(tmp_path, text)
    assert key_path in problems, problems
    assert reason in problems[key_path]
    assert str(tmp_path / "sync.yaml") in message
    assert key_path in message


def test_paths_across_lookups_and_relationship_names_are_accepted(tmp_path: Path) -> None:
    config = load_config(
        _write(
            tmp_path,
            "start_date: 2025-01-01\n"
            "field_mappings:\n"
            "  subscription_schedule: {metadata.account_name: Account.Name, metadata.quote: SBQQ__Quote__r.Name}\n"
            "  subscription_item: {metadata.closed: OrderId.OpportunityId.CloseDate}\n"
            "  subscription_phase: {iterations: SBQQ__Quote__c.SBQQ__SubscriptionTerm__c}\n",
        )
    )
    assert config.field_mappings["subscription_item"] == {"metadata.closed": "OrderId.OpportunityId.CloseDate"}


def test_unreadable_and_malformed_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_config(tmp_path / "missing.yaml")
    message, _ = _problems(tmp_path, "start_date: [2025\n")
    assert "not valid YAML" in message
    message, _ = _problems(tmp_path, "- just\n- a list\n")
    assert "expected a mapping" in message
