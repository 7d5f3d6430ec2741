"""Bad config files (issue 10.5): each is refused before anything runs with one line naming the file, the key and
the reason (the command line prints that line; its exit code is the CLI's business), and a key set twice is refused
rather than silently overridden."""

from __future__ import annotations

from pathlib import Path

import pytest

from sf_stripe_pipeline.core.config import ConfigError, load_config

VALID = "start_date: 2025-01-01\n"

CASES = [
    ("unknown_key", VALID + "livesync: {enabled: true}\n", "livesync", "Extra inputs are not permitted"),
    ("start_date_missing", "default_currency: USD\n", "start_date", "Field required"),
    ("start_date_not_a_date", "start_date: yesterday\n", "start_date", "valid date"),
    ("start_date_impossible", "start_date: 2025-02-30\n", "start_date", "valid date"),
    ("max_operations_zero", VALID + "limits: {max_operations_per_run: 0}\n", "limits.max_operations_per_run",
     "greater than or equal to 1"),
    ("allow_destructive_not_a_boolean", VALID + "limits: {allow_destructive: maybe}\n", "limits.allow_destructive",
     "valid boolean"),
    ("interval_not_cron_expressible", VALID + "live_sync: {interval_minutes: 7}\n", "live_sync.interval_minutes",
     "must divide 60"),
    ("retention_too_small", VALID + "retention: {salesforce_sync_records: 5}\n", "retention.salesforce_sync_records",
     "greater than or equal to 100"),
    ("default_currency_unsupported", VALID + "default_currency: XXX\n", "default_currency",
     "not a currency Stripe supports"),
    ("default_currency_not_a_code", VALID + "default_currency: dollars\n", "default_currency", "should match pattern"),
    ("filter_not_soql", VALID + "filters: {Order: \"Status = 'A' OR\"}\n", "filters.Order", "invalid SOQL filter"),
    ("filter_unknown_object", VALID + "filters: {Widget: \"Name = 'x'\"}\n", "filters.Widget",
     "unknown Salesforce object"),
    ("mapping_unknown_stripe_path", VALID + "field_mappings: {customer: {emial: Email__c}}\n",
     "field_mappings.customer.emial", "emial"),
    ("mapping_unknown_salesforce_field", VALID + "field_mappings: {customer: {email: Emial__c}}\n",
     "field_mappings.customer.email", "Emial__c"),
    ("mapping_unknown_target", VALID + "field_mappings: {gadget: {name: Name}}\n", "field_mappings.gadget",
     "unknown mapping target"),
    ("field_default_not_a_value", VALID + "field_defaults: {customer: {metadata.tier: [gold]}}\n",
     "field_defaults.customer.metadata.tier", "expected a static value"),
    ("duplicate_top_level_key", VALID + "start_date: 2025-02-01\n", "start_date", "set twice (lines 1 and 2)"),
    ("duplicate_nested_key", VALID + "limits:\n  max_operations_per_run: 5\n  max_operations_per_run: 6\n",
     "limits.max_operations_per_run", "set twice (lines 3 and 4)"),
    ("duplicate_mapping_target", VALID + "field_mappings:\n  customer: {email: Email__c}\n  customer: {phone: Phone}\n",
     "field_mappings.customer", "set twice (lines 3 and 4)"),
    ("yaml_syntax_error", "start_date: [2025-01-01\n", "", "not valid YAML at line 2"),
    ("not_a_mapping", "- start_date: 2025-01-01\n", "", "expected a mapping of settings, got list"),
    ("empty_file", "", "", "expected a mapping of settings, got NoneType"),
]


@pytest.mark.parametrize(("text", "key", "reason"), [pytest.param(*case[1:], id=case[0]) for case in CASES])
def test_a_bad_config_is_one_line_naming_file_key_and_reason(tmp_path: Path, text: str, key: str, reason: str) -> None:
    path = tmp_path / "sf_stripe.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    error = raised.value
    message = str(error)
    assert "\n" not in message
    assert message.startswith(f"{path}: {key or '<file>'}: "), message
    assert reason in message, message
    assert (error.source, error.key) == (str(path), key)
    assert reason in error.reason


def test_a_missing_file_is_one_line_too(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert str(raised.value) == f"{path}: <file>: cannot read the file: No such file or directory"


def test_every_problem_of_a_file_is_on_its_one_line(tmp_path: Path) -> None:
    path = tmp_path / "sf_stripe.yaml"
    path.write_text(VALID + "limits: {max_operations_per_run: 0, allow_destructive: maybe}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert [key for key, _ in raised.value.problems] == ["limits.max_operations_per_run", "limits.allow_destructive"]
    assert str(raised.value).count("; ") == 1


def test_the_same_key_in_two_mappings_is_not_a_duplicate(tmp_path: Path) -> None:
    path = tmp_path / "sf_stripe.yaml"
    path.write_text(
        VALID + "field_mappings:\n  customer: {email: Email__c}\n  product: {name: Name}\n"
        "field_defaults:\n  customer: {metadata.source: salesforce}\n",
        encoding="utf-8",
    )
    assert load_config(path).field_mappings["customer"] == {"email": "Email__c"}
