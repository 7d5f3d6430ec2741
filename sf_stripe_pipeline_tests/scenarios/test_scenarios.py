"""The scenario suite (issue 4): each folder under cases/ is one CPQ situation played end to end through Dagster
against the sandboxes, then checked through stripe-python and simple-salesforce against the spec's expectations.

Expectations come from the spec (shared/spec/connector-behaviour.md), not from what the code does today, so a
failing scenario names a behaviour still missing. The list of scenarios and their F-numbers is in README.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sf_stripe_pipeline_tests.scenarios.runner import ScenarioPlayer, case_folders, load_scenario, read_header


def _case(folder: Path):
    """Behaviour the pipeline does not have yet is the scenario.yaml's `xfail` reason. Strict: once the scenario
    passes, the key must go."""
    reason = read_header(folder).xfail
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(folder, id=folder.name, marks=marks)


@pytest.mark.parametrize("folder", [_case(folder) for folder in case_folders()])
def test_scenario(folder: Path) -> None:
    scenario = load_scenario(folder)
    problems = ScenarioPlayer(scenario).play()
    assert not problems, (
        f"{scenario.name} [{', '.join(scenario.features)}]: {scenario.description}\n  - " + "\n  - ".join(problems)
    )
