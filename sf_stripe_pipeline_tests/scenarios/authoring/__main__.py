"""Regenerate the scenario snapshots: `python -m sf_stripe_pipeline_tests.scenarios.authoring [--check] [NAME...]`.

Each case in the `cases` package builds its org with the CPQ builder; this writes every step's records into
`cases/<name>/<step>/<SObject>.json` (the sandbox's snapshot format). `--check` writes nothing and fails if a
checked-in snapshot differs from what its case builds.
"""

from __future__ import annotations

import argparse
import sys
import tempfile

from sf_stripe_pipeline.sandbox.snapshot import read_snapshot, write_snapshot
from sf_stripe_pipeline_tests.scenarios.authoring.cases import CASES
from sf_stripe_pipeline_tests.scenarios.authoring.cpq import CpqOrg
from sf_stripe_pipeline_tests.scenarios.runner import CASES_DIR


def build(name: str) -> dict[str, dict]:
    org = CpqOrg()
    CASES[name](org)
    return org.step_orgs()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="cases to write (default: all)")
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(CASES))
    if unknown:
        parser.error(f"unknown case(s) {unknown}; known: {', '.join(CASES)}")
    stale = []
    for name in args.names or CASES:
        for step, org in build(name).items():
            folder = CASES_DIR / name / step
            if not args.check:
                write_snapshot(org, folder)
                continue
            with tempfile.TemporaryDirectory() as scratch:
                write_snapshot(org, scratch)
                if not folder.is_dir() or read_snapshot(scratch) != read_snapshot(folder):
                    stale.append(str(folder))
    for folder in stale:
        print(f"stale snapshot: {folder}", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
