"""The `sf-stripe-pipeline` command line.

The sandboxes are the project's "no credentials needed" path: `sandbox reset` fills the Salesforce sandbox
with the demo CPQ org and empties the Stripe sandbox, `sandbox load-org` / `export-org` swap in an org
snapshot (a folder of `<SObject>.json` files), and `sandbox serve` puts both sandboxes on 127.0.0.1 so curl,
a browser or a client in another process can look at them. State lives under `$SF_STRIPE_HOME` (home.py).

Each command group registers itself on the top-level parser in its own function, so `build_parser()` can
grow more groups (demo, sync) without touching the sandbox commands.

Exit codes: 0 everything applied (rejected contracts are listed, not errors); 1 the run failed or was stopped;
2 a configuration, usage or local-state error (one line each, before anything is written; `--debug` shows the
traceback); 3 the run completed but some Stripe or Salesforce operations failed.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, closing, contextmanager
from datetime import date
from pathlib import Path

from sf_stripe_pipeline import home
from sf_stripe_pipeline import clock
from sf_stripe_pipeline.sandbox.demo_org import (
    DEFAULT_ORDERS,
    DEFAULT_SEED,
    MIN_DEMO_ORDERS,
    demo_case_index,
    generate_demo_org,
)
from sf_stripe_pipeline.core.config import ConfigError
from sf_stripe_pipeline.local_state import LocalStateError, check_warehouse
from sf_stripe_pipeline.sandbox.salesforce import API_VERSION, SalesforceSandbox, SandboxStateError
from sf_stripe_pipeline.sandbox.snapshot import SnapshotError, load_snapshot_into, write_snapshot
from sf_stripe_pipeline.sandbox.stripe import SANDBOX_API_KEY, StripeSandbox
from sf_stripe_pipeline.sandbox.stripe.store import SandboxStateError as StripeSandboxStateError
from sf_stripe_pipeline.sandbox.transport import serve

PROG = "sf-stripe-pipeline"
DEFAULT_SERVE_PORT = 8420
EXIT_OK = 0
EXIT_RUN_FAILED = 1
EXIT_BAD_INPUT = 2  # argparse's own code for a usage error
EXIT_FAILED_OPERATIONS = 3

Handler = Callable[[argparse.Namespace], int]


def _demo_order_count(text: str) -> int:
    try:
        orders = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--orders must be a whole number, got {text!r}") from None
    if orders < MIN_DEMO_ORDERS:
        raise argparse.ArgumentTypeError(
            f"--orders must be at least {MIN_DEMO_ORDERS} (the demo org has one order of each case), got {orders}"
        )
    return orders


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2025-03-10, got {text!r}") from None


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65534:
        raise argparse.ArgumentTypeError(f"--port must be 0 (any free ports) or 1-65534, got {text!r}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Sync Salesforce CPQ into Stripe Billing.",
        epilog="Exit codes: 0 everything applied (rejections listed); 1 run failed or stopped; 2 configuration, "
        "usage or local-state error; 3 run completed with failed operations.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_sync_commands(commands)
    _add_warehouse_commands(commands)
    _add_sandbox_commands(commands)
    return parser


def _add_sync_commands(commands: argparse._SubParsersAction) -> None:
    demo = commands.add_parser(
        "demo", help="reset the sandboxes to the demo org and run the whole sync through Dagster",
        description="Reset the embedded sandboxes to the generated demo CPQ org, run the sync job through Dagster, "
        "and print what it did. Always uses the sandboxes, never real credentials.",
    )
    demo.add_argument("--orders", type=_demo_order_count, default=DEFAULT_ORDERS,
                      help=f"number of demo orders (default {DEFAULT_ORDERS}, at least {MIN_DEMO_ORDERS})")
    demo.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    demo.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    demo.set_defaults(handler=_demo)

    sync = commands.add_parser(
        "sync", help="run the sync against whatever is configured (sandboxes, or real services with credentials)",
        description="Sync Salesforce into Stripe through Dagster: by default every partition from the config's "
        "start date to today, in one run.",
    )
    sync.add_argument("--order", dest="order_ids", action="append", default=[], metavar="ID",
                      help="sync the contract of this order (repeatable); works while live sync is off")
    sync.add_argument("--from", dest="from_date", type=_iso_date, default=None, metavar="DATE",
                      help="first partition (YYYY-MM-DD) instead of the config's start date: a backfill")
    sync.add_argument("--dry-run", action="store_true", help="plan only: show what would change, write nothing")
    sync.add_argument("--max-operations", type=_positive, default=None, metavar="N",
                      help="allow up to N Stripe operations in this run (e.g. a large first sync) instead of the "
                      "config's limits.max_operations_per_run")
    sync.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    sync.set_defaults(handler=_sync)


# ---------------------------------------------------------------------------------------------- sync


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _sync(args: argparse.Namespace) -> int:
    from sf_stripe_pipeline.runner import format_summary, run_sync  # loads Dagster: only when syncing

    summary = run_sync(
        order_ids=args.order_ids, from_date=args.from_date, dry_run=args.dry_run,
        max_operations=args.max_operations, show=_progress,
    )
    print(format_summary(summary))
    return summary.exit_code


def _demo(args: argparse.Namespace) -> int:
    from sf_stripe_pipeline.runner import format_summary, run_sync, uses_real_services

    if real := uses_real_services():
        print(f"demo always runs on the sandboxes, but {', '.join(real)} is set: unset it, or use `{PROG} sync`.",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    check_warehouse()  # before the reset: a damaged warehouse is refused with nothing changed
    org = _reset_sandboxes(args.orders, args.seed, clock.now().date())
    summary = run_sync(show=_progress)
    cases = demo_case_index(org)
    summary.rejected = [(f"{key} ({cases.get(key, 'order')})", reasons) for key, reasons in summary.rejected]
    print()
    print(format_summary(summary))
    return summary.exit_code


def _add_warehouse_commands(commands: argparse._SubParsersAction) -> None:
    warehouse = commands.add_parser(
        "warehouse", help="the local DuckDB warehouse ($SF_STRIPE_HOME/warehouse.duckdb)",
        description="Manage the local DuckDB warehouse. It is a cache: Salesforce and Stripe hold what it records.",
    )
    actions = warehouse.add_subparsers(dest="warehouse_command", required=True, metavar="ACTION")
    rebuild = actions.add_parser(
        "rebuild", help="keep a lost or damaged warehouse aside and rebuild it from Salesforce and Stripe",
        description="Keep the warehouse aside (warehouse.duckdb.damaged-<time>, or .previous-<time> when readable), "
        "re-extract Salesforce into a fresh one and adopt the Stripe objects the sync made (by the Stripe ids written "
        "back, else by their salesforce_sync_key metadata) into its ledger. Writes nothing to Stripe or Salesforce; "
        "refuses while a sync run is writing the warehouse.",
    )
    rebuild.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    rebuild.set_defaults(handler=_warehouse_rebuild)


def _warehouse_rebuild(args: argparse.Namespace) -> int:
    from sf_stripe_pipeline.recovery import RebuildError, format_report, rebuild_warehouse  # loads Dagster

    try:
        report = rebuild_warehouse(show=_progress)
    except RebuildError as problem:
        if args.debug:
            raise
        _error(problem)
        return EXIT_BAD_INPUT
    print(format_report(report))
    return EXIT_OK


def _add_sandbox_commands(commands: argparse._SubParsersAction) -> None:
    sandbox = commands.add_parser(
        "sandbox", help="the embedded Salesforce and Stripe sandboxes",
        description=f"Manage the embedded sandboxes (state under ${home.HOME_ENV_VAR}, default ./.sf_stripe/).",
    )
    actions = sandbox.add_subparsers(dest="sandbox_command", required=True, metavar="ACTION")

    reset = actions.add_parser("reset", help="load the demo CPQ org into Salesforce and empty Stripe")
    reset.add_argument("--orders", type=_demo_order_count, default=DEFAULT_ORDERS,
                       help=f"number of orders (default {DEFAULT_ORDERS}, at least {MIN_DEMO_ORDERS})")
    reset.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    reset.add_argument("--as-of", type=_iso_date, default=None,
                       help="the demo's 'today', YYYY-MM-DD (default: the sandbox clock's date)")
    reset.set_defaults(handler=_sandbox_reset)

    load_org = actions.add_parser("load-org", help="replace the Salesforce org with a snapshot folder")
    load_org.add_argument("directory", type=Path, metavar="DIR", help="folder of <SObject>.json files")
    load_org.set_defaults(handler=_sandbox_load_org)

    export_org = actions.add_parser("export-org", help="write the Salesforce org as a snapshot folder")
    export_org.add_argument("directory", type=Path, metavar="DIR", help="folder to write <SObject>.json files to")
    export_org.set_defaults(handler=_sandbox_export_org)

    serve_parser = actions.add_parser("serve", help="serve both sandboxes on 127.0.0.1 until Ctrl-C")
    serve_parser.add_argument("--port", type=_port, default=DEFAULT_SERVE_PORT,
                              help=f"Stripe's port; Salesforce uses the next one (default {DEFAULT_SERVE_PORT})")
    serve_parser.set_defaults(handler=_sandbox_serve)


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # stop like Ctrl-C: a run this command submitted is cancelled first


def _error(message: object) -> None:
    print(f"{PROG}: error: {' '.join(str(message).split())}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        return handler(args)
    except ConfigError as problem:  # one line per problem: file, key and reason
        if args.debug:
            raise
        for key_path, reason in problem.problems:
            _error(f"{problem.source}: {key_path or '<root>'}: {reason}")
        return EXIT_BAD_INPUT
    except (SandboxStateError, StripeSandboxStateError, LocalStateError) as problem:  # names the file and the fix
        if args.debug:
            raise
        _error(problem)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"{PROG}: stopped", file=sys.stderr)
        return EXIT_RUN_FAILED
    except Exception as problem:  # noqa: BLE001 - the command line answers in one line; --debug shows the rest
        if args.debug:
            raise
        _error(f"{type(problem).__name__}: {problem} (run with --debug for the traceback)")
        return EXIT_RUN_FAILED


# ---------------------------------------------------------------------------------------------- sandbox


def _salesforce_sandbox(replacing_org: bool = False) -> closing[SalesforceSandbox]:
    """The Salesforce sandbox; when the command replaces the whole org, a damaged store is moved aside first."""
    return closing(SalesforceSandbox(home.salesforce_sandbox_dir(), discard_damaged_store=replacing_org))


def _stripe_sandbox() -> closing[StripeSandbox]:
    return closing(StripeSandbox(home.stripe_sandbox_dir()))


def _print_counts(counts: Mapping[str, int], heading: str) -> None:
    print(heading)
    width = max(map(len, counts), default=0)
    for sobject, count in counts.items():
        print(f"  {sobject:<{width}}  {count:>9,}")
    print(f"  {'total':<{width}}  {sum(counts.values()):>9,}")


def _sandbox_reset(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    _reset_sandboxes(args.orders, args.seed, args.as_of or clock.now().date())
    print(f"Done in {time.perf_counter() - started:.2f} s")
    return EXIT_OK


def _reset_sandboxes(orders: int, seed: int, as_of: date) -> dict[str, list[dict]]:
    """The generated demo org into the Salesforce sandbox, and an empty Stripe sandbox; prints what it did."""
    org = generate_demo_org(orders, seed, as_of)
    with _salesforce_sandbox(replacing_org=True) as salesforce:
        counts = salesforce.replace_org(org)
    _print_counts(counts, f"Salesforce sandbox ({home.salesforce_sandbox_dir()}): demo org of {orders:,} "
                          f"orders, seed {seed}, as of {as_of.isoformat()}")
    cases = Counter(demo_case_index(org).values())
    print("Orders by case: " + ", ".join(f"{case} {count}" for case, count in sorted(cases.items())))
    with _stripe_sandbox() as stripe_sandbox:
        stripe_sandbox.reset()
    print(f"Stripe sandbox ({home.stripe_sandbox_dir()}): emptied")
    return org


def _sandbox_load_org(args: argparse.Namespace) -> int:
    try:
        with _salesforce_sandbox(replacing_org=True) as salesforce:
            counts = load_snapshot_into(salesforce, args.directory)
    except SnapshotError as problem:
        print(f"{PROG}: error: {problem}", file=sys.stderr)
        print("The Salesforce sandbox still holds its previous org.", file=sys.stderr)
        return EXIT_BAD_INPUT
    _print_counts(counts, f"Salesforce sandbox ({home.salesforce_sandbox_dir()}): loaded {args.directory}")
    return EXIT_OK


def _sandbox_export_org(args: argparse.Namespace) -> int:
    with _salesforce_sandbox() as salesforce:
        org = salesforce.export_org()
    write_snapshot(org, args.directory)
    _print_counts({sobject: len(records) for sobject, records in org.items()}, f"Wrote {args.directory}")
    return EXIT_OK


@contextmanager
def _served(stripe_port: int) -> Iterator[tuple[str, str]]:
    """Both sandboxes on loopback: Stripe on `stripe_port`, Salesforce on the next (0: any free ports)."""
    with ExitStack() as stack:
        salesforce, stripe_sandbox = stack.enter_context(_salesforce_sandbox()), stack.enter_context(_stripe_sandbox())
        stripe_server = stack.enter_context(serve(stripe_sandbox, stripe_port))
        salesforce_server = stack.enter_context(serve(salesforce, stripe_port + 1 if stripe_port else 0))
        yield stripe_server.url, salesforce_server.url


def _serve_instructions(stripe_url: str, salesforce_url: str) -> str:
    query = "SELECT+Id,OrderNumber,Status+FROM+Order+LIMIT+5"
    return f"""\
Stripe sandbox:     {stripe_url}
Salesforce sandbox: {salesforce_url}

Try:
  curl -H 'Authorization: Bearer {SANDBOX_API_KEY}' {stripe_url}/v1/customers
  curl -H 'Authorization: Bearer sandbox' '{salesforce_url}/services/data/v{API_VERSION}/query?q={query}'

stripe-python:
  import stripe
  client = stripe.StripeClient("{SANDBOX_API_KEY}", base_addresses={{"api": "{stripe_url}"}})
  print(client.v1.customers.list(params={{"limit": 3}}))

(simple-salesforce always uses https, so reach the Salesforce sandbox in process with
 SalesforceSandbox(home.salesforce_sandbox_dir()).client().)
Press Ctrl-C to stop."""


def _sandbox_serve(args: argparse.Namespace) -> int:
    try:
        with _served(args.port) as (stripe_url, salesforce_url):
            print(_serve_instructions(stripe_url, salesforce_url), flush=True)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                print("Stopped.", flush=True)
    except OSError as problem:  # typically: the port is in use
        print(f"{PROG}: error: cannot serve on port {args.port} or {args.port + 1}: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return EXIT_OK


if __name__ == "__main__":  # `python -m sf_stripe_pipeline.cli`
    sys.exit(main())
