"""Load a scenario folder, play its steps through the Dagster pipeline against the sandboxes, check the outcome.

A scenario folder (`cases/<name>/`) holds:
- `scenario.yaml`: `description`, `features` (spec F-numbers), optional `xfail` (why the pipeline cannot pass it
  yet; strict: the key must go once it passes) and `steps`. Each step has `now` (the pinned sandbox
  clock), `org` (a snapshot subfolder: the first step's is the whole org, later ones hold records upserted by Id
  into the org as the earlier steps left it, so the Stripe ids the sync wrote back survive), optional `stripe`
  (set-up calls made with stripe-python before the sync, e.g. a customer to adopt) and optional `sync`
  (`{order_ids: [...]}` for a manual sync, `{from: DATE}`; default: from the earliest ActivatedDate in the org);
- optional `config.yaml`: the sync config for this scenario (same `start_date` as the session's);
- `expected.yaml`: what must hold after the last step (see `check_expected`).

Everything outside the pipeline goes through the real clients: snapshots load through the sandbox's own loader,
Stripe set-up and checks use stripe-python, Salesforce checks simple-salesforce.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from sf_stripe_pipeline import home
from sf_stripe_pipeline.runner import RunSummary, run_sync
from sf_stripe_pipeline import clock
from sf_stripe_pipeline.sandbox.salesforce import OrgRecordError, SalesforceSandbox
from sf_stripe_pipeline.sandbox.snapshot import SnapshotError, load_snapshot_into, read_snapshot
from sf_stripe_pipeline.sandbox.stripe import StripeSandbox
from sf_stripe_pipeline_tests.scenarios.expectations import Checker

CASES_DIR = Path(__file__).parent / "cases"
STAMP_FIELDS = ("LastModifiedDate", "SystemModstamp")


class ScenarioError(ValueError):
    """A scenario folder that cannot be played as written (not a behaviour mismatch)."""


@dataclass(frozen=True)
class Step:
    now: str
    org: Path | None
    """None on a later step: a re-run on the org as it is."""
    sync: Mapping[str, Any] = field(default_factory=dict)
    stripe: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class Scenario:
    name: str
    folder: Path
    description: str
    features: tuple[str, ...]
    steps: tuple[Step, ...]
    expected: Mapping[str, Any]
    config: Path | None


def _instant_text(value: Any) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as problem:
        raise ScenarioError(f"{path}: {problem}") from None


def case_folders() -> list[Path]:
    return sorted(path for path in CASES_DIR.iterdir() if (path / "scenario.yaml").is_file())


@dataclass(frozen=True)
class ScenarioHeader:
    """What a scenario is about and whether it passes yet, read without loading its snapshots (for collection and
    the README's table)."""

    features: tuple[str, ...]
    xfail: str | None
    """Why the pipeline does not pass this scenario yet; None when it must pass."""

    @property
    def status(self) -> str:
        return f"xfail: {self.xfail}" if self.xfail else "pass"


def read_header(folder: Path) -> ScenarioHeader:
    return _header(_read_yaml(folder / "scenario.yaml") or {})


def _header(spec: Mapping[str, Any]) -> ScenarioHeader:
    xfail = spec.get("xfail")
    return ScenarioHeader(tuple(spec.get("features") or ()), " ".join(str(xfail).split()) if xfail else None)


def load_scenario(folder: Path) -> Scenario:
    """The scenario in `folder`, with every snapshot folder read (so a malformed one fails here, not mid-run)."""
    spec = _read_yaml(folder / "scenario.yaml") or {}
    steps = []
    for number, step in enumerate(spec.get("steps") or [], start=1):
        if "now" not in step or ("org" not in step and number == 1):
            raise ScenarioError(f"{folder}/scenario.yaml: step {number} needs `now`, and the first step an `org`")
        org = folder / step["org"] if step.get("org") else None
        steps.append(Step(_instant_text(step["now"]), org, step.get("sync") or {}, tuple(step.get("stripe") or ())))
    if not steps:
        raise ScenarioError(f"{folder}/scenario.yaml: no steps")
    _check_snapshots_load(folder, steps)
    config = folder / "config.yaml"
    return Scenario(
        name=folder.name,
        folder=folder,
        description=str(spec.get("description", "")).strip(),
        features=_header(spec).features,
        steps=tuple(steps),
        expected=_read_yaml(folder / "expected.yaml") or {},
        config=config if config.is_file() else None,
    )


def _check_snapshots_load(folder: Path, steps: list[Step]) -> None:
    """Load every step's records into a scratch sandbox, as the player will, so a snapshot that the sandbox refuses
    (a bad id, a dangling reference) fails here as a ScenarioError, never as a behaviour mismatch."""
    with tempfile.TemporaryDirectory() as scratch:
        sandbox = SalesforceSandbox(scratch)
        try:
            for number, step in enumerate(steps, start=1):
                try:
                    load_step(sandbox, number, step)
                except (SnapshotError, OrgRecordError) as problem:
                    raise ScenarioError(f"{folder}, step {number}: the snapshot does not load: {problem}") from None
        finally:
            sandbox.close()


@contextlib.contextmanager
def environment(**variables: str) -> Iterator[None]:
    """Set environment variables for the duration, restoring the previous values."""
    previous = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _merged(current: Mapping[str, list[dict]], upserts: Mapping[str, list[dict]]) -> dict[str, list[dict]]:
    """`current` with `upserts` applied by Id. An upserted record is stamped anew at load time (as a Salesforce
    edit would be), so incremental extraction sees it."""
    merged = {sobject: {record["Id"]: dict(record) for record in records} for sobject, records in current.items()}
    for sobject, records in upserts.items():
        by_id = merged.setdefault(sobject, {})
        for record in records:
            base = {name: value for name, value in by_id.get(record["Id"], {}).items() if name not in STAMP_FIELDS}
            by_id[record["Id"]] = base | record
    return {sobject: list(records.values()) for sobject, records in merged.items()}


def load_step(sandbox: SalesforceSandbox, number: int, step: Step) -> None:
    """The first step replaces the org with its snapshot; a later one upserts its records into the org as it is."""
    if step.org is None:
        return
    if number == 1:
        load_snapshot_into(sandbox, step.org)
    else:
        sandbox.replace_org(_merged(sandbox.export_org(), read_snapshot(step.org)))


def _earliest_activation(org: Mapping[str, list[dict]]) -> date | None:
    stamps = [
        clock.parse_instant(order["ActivatedDate"][:19]) for order in org.get("Order", []) if order.get("ActivatedDate")
    ]
    return min(stamps).date() if stamps else None


class ScenarioPlayer:
    """Plays one scenario's steps in the current `$SF_STRIPE_HOME`."""

    def __init__(self, scenario: Scenario):
        self.scenario = scenario
        self.salesforce = SalesforceSandbox(home.salesforce_sandbox_dir())
        self.stripe = StripeSandbox(home.stripe_sandbox_dir())
        self.summaries: list[RunSummary] = []

    def play(self) -> list[str]:
        """Run every step, then return the differences from `expected.yaml`, seen at the last step's `now`."""
        try:
            for number, step in enumerate(self.scenario.steps, start=1):
                with self._environment(step):
                    load_step(self.salesforce, number, step)
                    unmet = self._stripe_set_up(step)
                    if unmet:  # an earlier step did not sync what this one acts on: a behaviour failure
                        return [f"step {number} set-up: {problem}" for problem in unmet]
                    self.summaries.append(self._sync(step))
            with self._environment(self.scenario.steps[-1]):
                checker = Checker(self.stripe.client(), self.salesforce.client(), str(home.warehouse_path()))
                return check_expected(self.scenario, self.summaries, checker)
        finally:
            self.salesforce.close()
            self.stripe.close()

    def _environment(self, step: Step) -> contextlib.AbstractContextManager[None]:
        config = {home.CONFIG_ENV_VAR: str(self.scenario.config)} if self.scenario.config else {}
        return environment(**{clock.NOW_ENV_VAR: step.now, **config})

    def _stripe_set_up(self, step: Step) -> list[str]:
        """Set-up calls through stripe-python, standing for what users do in Stripe:
        `{create: service, params: {...}, link: "Account/001..."}` writes the new id into that record's Stripe_ID__c
        (a user pasting an id); `{delete | cancel: service, linked: "Account/001..."}` deletes or cancels the object a
        record links. Returns what could not be done because a record has no Stripe id."""
        client = self.stripe.client()
        salesforce = self.salesforce.client()
        unmet = []
        for action in step.stripe:
            if "create" in action:
                created = getattr(client.v1, action["create"]).create(action.get("params") or {})
                if action.get("link"):
                    sobject, _, record_id = action["link"].partition("/")
                    getattr(salesforce, sobject).update(record_id, {"Stripe_ID__c": created.id})
                continue
            verb = next((verb for verb in ("delete", "cancel") if verb in action), None)
            if verb is None:
                raise ScenarioError(f"{self.scenario.folder}: unknown stripe set-up action {dict(action)}")
            sobject, _, record_id = action["linked"].partition("/")
            stripe_id = getattr(salesforce, sobject).get(record_id)["Stripe_ID__c"]
            if not stripe_id:
                unmet.append(f"cannot {verb} the {action[verb]} of {action['linked']}: it has no Stripe_ID__c")
                continue
            getattr(getattr(client.v1, action[verb]), verb)(stripe_id)
        return unmet

    def _sync(self, step: Step) -> RunSummary:
        if step.sync.get("order_ids"):
            return run_sync(order_ids=list(step.sync["order_ids"]))
        start = step.sync.get("from") or _earliest_activation(self.salesforce.export_org())
        return run_sync(from_date=date.fromisoformat(str(start)) if start else None)


def check_expected(scenario: Scenario, summaries: list[RunSummary], checker: Checker) -> list[str]:
    """Every difference between the sandboxes' state (and the runs) and `expected.yaml`. Sections:
    `runs` ({step number: {success, stripe_writes, salesforce_writes, contracts_synced, rejected,
    failed_operations}}; a run with failed operations is not a success),
    `stripe` ({counts: {service: n}, objects: [{linked | list+where, as, count, expect}]}), `salesforce`
    ([{sobject, id | where, count, expect}]), `sync_records` ([{compound_id | where, status, message, count}]),
    `sync_record_counts` ({status: n}), `warehouse` ([{table, where, message, count}])."""
    expected = scenario.expected
    runs = expected.get("runs") or {}
    for number, summary in enumerate(summaries, start=1):
        actual = {
            "success": summary.success,
            "stripe_writes": summary.stripe_writes,
            "salesforce_writes": summary.salesforce_writes,
            "contracts_synced": summary.contracts_synced,
            "rejected": len(summary.rejected),
            "failed_operations": summary.failed_operations,
        }
        expected_run = runs.get(number) or {"success": True}
        for key, value in expected_run.items():
            checker.compare(f"run {number} {key}", actual[key], value)
        if not summary.success and expected_run.get("success", True):
            checker.problems.append(f"run {number} failed: {summary.failure}")
    stripe_expected = expected.get("stripe") or {}
    checker.stripe_counts(stripe_expected.get("counts") or {})
    checker.stripe_objects(stripe_expected.get("objects") or [])
    checker.salesforce_section(expected.get("salesforce") or [])
    checker.sync_records(expected.get("sync_records") or [])
    checker.sync_record_counts(expected.get("sync_record_counts") or {})
    checker.warehouse(expected.get("warehouse") or [])
    return checker.problems
