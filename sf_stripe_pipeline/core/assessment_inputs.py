"""What each contract's assessment read, so a later run assesses again only the contracts whose inputs changed.

Validating and drafting are most of a run's work, yet between two runs most contracts read exactly what they read
before. While a contract is assessed, its reads are traced (`TracedOrg`): the records it got by Id, the child lists
it asked for, the objects it scanned whole. The trace is stored with the contract's validation row, with a digest of
what those reads returned and of everything else the assessment depends on (`Basis`: the code, the sync config,
the day, the Salesforce instance; the contract's own orders and account; the violations of the rules that compare
records across the org, for the records read). The next run evaluates the stored trace against the newly extracted
org: the same digest means the same inputs, so the stored assessment stands; any other
digest, or no trace, and the contract is assessed again (`assess_changed_in_batches`).

A record's value is its version (`OrgSnapshot.version`: a digest of every stored value but the change stamps, the
extraction's filter flag included), so a change anywhere in a record read, a child added to a list read, or a
record gone, changes the digest. Reads are traced whole records, not fields: a write-back of a Stripe id changes its
record's version, and the contract is assessed again — by the run that wrote it, once its writes are done
(`applied_sync`, with the warehouse following the writes), so the next run finds the contract unchanged.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache, cached_property
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, cast

import pandas as pd

from sf_stripe_pipeline.core.config import SyncConfig
from sf_stripe_pipeline.core.contracts import Contract
from sf_stripe_pipeline.core.org import OrgSnapshot
from sf_stripe_pipeline.core.rules import (
    ContractAssessment,
    assess_contracts,
    schema_violations,
    shared_record_violations,
)
from sf_stripe_pipeline.core.violations import Violation

_PACKAGE = Path(__file__).resolve().parents[1]


@cache
def code_version() -> str:
    """A digest of the pipeline's version and source: another version of the code assesses every contract again.
    Taken when this module is imported, so it is the code the process runs, even if the files change meanwhile."""
    try:
        release = version(_PACKAGE.name)
    except PackageNotFoundError:  # run from a source tree
        release = ""
    digest = hashlib.blake2b(release.encode(), digest_size=16)
    for source in sorted(_PACKAGE.rglob("*.py")):
        digest.update(source.relative_to(_PACKAGE).as_posix().encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class Reads:
    """What one contract's assessment read: records by (sobject, Id), child lists by (sobject, parent field, parent
    Id), and whole objects. Sorted, so equal reads serialise equally."""

    records: tuple[tuple[str, str], ...] = ()
    children: tuple[tuple[str, str, str], ...] = ()
    scans: tuple[str, ...] = ()

    def to_json(self) -> str:
        return json.dumps([self.records, self.children, self.scans], separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Reads:
        records, children, scans = json.loads(text)
        return cls(tuple(map(tuple, records)), tuple(map(tuple, children)), tuple(scans))


class TracedOrg:
    """The org as one contract's assessment sees it, noting each read (an `OrgSnapshot` to the code it is given to)."""

    def __init__(self, org: OrgSnapshot):
        self._org = org
        self._records: set[tuple[str, str]] = set()
        self._children: set[tuple[str, str, str]] = set()
        self._scans: set[str] = set()

    def get(self, sobject: str, record_id: str | None) -> dict | None:
        if record_id is not None:
            self._records.add((sobject, record_id))
        return self._org.get(sobject, record_id)

    def records(self, sobject: str) -> list[dict]:
        self._scans.add(sobject)
        return self._org.records(sobject)

    def children(self, sobject: str, parent_field: str, parent_id: str) -> list[dict]:
        if parent_id is None:
            return []
        self._children.add((sobject, parent_field, parent_id))
        return self._org.children(sobject, parent_field, parent_id)

    def reads(self) -> Reads:
        return Reads(tuple(sorted(self._records)), tuple(sorted(self._children)), tuple(sorted(self._scans)))


@dataclass(frozen=True)
class StoredInputs:
    """A contract's reads as its last assessment traced them, and the digest of their values then."""

    reads: Reads
    digest: str


@dataclass(frozen=True)
class Basis:
    """What every assessment of a run depends on besides its reads."""

    config: SyncConfig
    today: date
    instance_url: str
    cross_record: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    """Record Id -> the violations of rules that compare it with other records (shared_record_violations) or that
    extraction found on it (schema failures): they change without the record changing."""

    @cached_property
    def prefix(self) -> bytes:
        return "\0".join(
            [code_version(), self.config.model_dump_json(), self.today.isoformat(), self.instance_url]
        ).encode()

    @cached_property
    def scans(self) -> dict[str, str]:
        """Sobject -> digest of its records' versions, made once a run for the contracts that read it whole."""
        return {}


def validation_basis(
    config: SyncConfig, *, today: date, instance_url: str, scope_label: str, org_fingerprint: str
) -> str:
    """What a whole validation is made from: the basis of every assessment, the scope, and the org (its
    fingerprint, warehouse/org.py). From the same, a validation decides the same for every contract, so a run whose
    validation basis is the stored one keeps it without loading the org."""
    digest = hashlib.blake2b(Basis(config, today, instance_url).prefix, digest_size=16)
    digest.update(f"\0{scope_label}\0{org_fingerprint}".encode())
    return digest.hexdigest()


def inputs_digest(contract: Contract, reads: Reads, org: OrgSnapshot, basis: Basis) -> str:
    """The digest of what `reads` return from `org` for `contract`, under `basis`."""
    digest = hashlib.blake2b(basis.prefix, digest_size=16)
    digest.update(repr((contract.key, contract.order_ids, contract.account_id)).encode())
    read_ids: list[str] = []
    for sobject, record_id in reads.records:
        digest.update(f"\1{sobject}\0{record_id}\0{org.version(sobject, record_id)}".encode())
        read_ids.append(record_id)
    for sobject, parent_field, parent_id in reads.children:
        digest.update(f"\2{sobject}\0{parent_field}\0{parent_id}".encode())
        for child in org.children(sobject, parent_field, parent_id):
            digest.update(f"\0{child['Id']}\0{org.version(sobject, child['Id'])}".encode())
            read_ids.append(child["Id"])
    for sobject in reads.scans:
        if sobject not in basis.scans:
            versions = "\0".join(str(org.version(sobject, record["Id"])) for record in org.records(sobject))
            basis.scans[sobject] = hashlib.blake2b(versions.encode(), digest_size=16).hexdigest()
        digest.update(f"\3{sobject}\0{basis.scans[sobject]}".encode())
    for record_id in sorted(set(read_ids)):
        if found := basis.cross_record.get(record_id):
            digest.update(f"\4{record_id}\0{found!r}".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class AssessmentBatches:
    """The contracts whose stored assessment stands, and the others' assessments in batches (each batch's
    assessments, and the inputs each read), made as they are iterated: a large org is never held assessed whole."""

    unchanged: frozenset[str]
    batches: Iterator[tuple[dict[str, ContractAssessment], dict[str, StoredInputs]]]


def assess_changed_in_batches(
    contracts: Iterable[Contract],
    org: OrgSnapshot,
    config: SyncConfig,
    *,
    today: date,
    instance_url: str,
    stored_schema_failures: Mapping[str, pd.DataFrame],
    stored_inputs: Mapping[str, StoredInputs],
    shared_by_id: Mapping[str, list[Violation]] | None = None,
    batch_size: int = 2_000,
) -> AssessmentBatches:
    """Assess the contracts whose stored inputs (`stored_inputs`, by contract key) no longer match the org, or
    that have none, tracing what each reads; the others keep their stored assessment. `shared_by_id`:
    `shared_record_violations(org)`, when the caller found it without scanning the org."""
    contracts = list(contracts)
    shared = shared_record_violations(org) if shared_by_id is None else shared_by_id
    schema = schema_violations((), stored_schema_failures)
    cross_record: dict[str, list[Any]] = {
        record_id: [*(violation for _, violation in schema.get(record_id, ())), *shared.get(record_id, ())]
        for record_id in {*schema, *shared}
    }
    basis = Basis(config, today, instance_url, cross_record)
    unchanged = frozenset(
        contract.key
        for contract in contracts
        if (stored := stored_inputs.get(contract.key)) is not None
        and inputs_digest(contract, stored.reads, org, basis) == stored.digest
    )
    changed = [contract for contract in contracts if contract.key not in unchanged]

    def batches() -> Iterator[tuple[dict[str, ContractAssessment], dict[str, StoredInputs]]]:
        for start in range(0, len(changed), batch_size):
            batch = changed[start : start + batch_size]
            traced = {contract.key: TracedOrg(org) for contract in batch}
            assessments = assess_contracts(
                batch,
                org,
                config,
                today=today,
                instance_url=instance_url,
                stored_schema_failures=stored_schema_failures,
                shared_by_id=shared,
                org_of=lambda contract: cast(OrgSnapshot, traced[contract.key]),
            )
            inputs = {}
            for contract in batch:
                reads = traced[contract.key].reads()
                inputs[contract.key] = StoredInputs(reads, inputs_digest(contract, reads, org, basis))
            yield assessments, inputs

    return AssessmentBatches(unchanged, batches())


code_version()  # now, not at the first assessment: the code a run executes is what it loaded
