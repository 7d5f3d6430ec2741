"""Checks of the local state a sync starts from, made before anything is written anywhere; and keeping the warehouse
true to the sandboxes when their state is replaced."""

from __future__ import annotations

from pathlib import Path

import duckdb

from sf_stripe_pipeline import home


DUCKDB_HEADER_BYTES = 3 * 4096
"""DuckDB's file header and its two database headers, before the first block."""


class LocalStateError(RuntimeError):
    """Local state the sync cannot start from; the message is one line naming the file and the recovery."""


def check_warehouse(path: Path | None = None) -> None:
    """Refuse a damaged `warehouse.duckdb` (truncated, garbage, half-written) in a second, not after a run started.
    A warehouse another process has open (a run in progress) is not damage: the run queue or the in-run guard deals
    with that."""
    path = path or home.warehouse_path()
    if not path.exists():
        return
    try:
        with duckdb.connect(str(path), read_only=True) as conn:
            _, _, block_size, _, used_blocks, *_ = conn.execute("PRAGMA database_size").fetchone()
    except duckdb.Error as problem:
        if "lock" in str(problem).lower():
            return
        raise _damaged(path, " ".join(str(problem).split())[:200]) from None
    # A truncated file opens, and fails only when a missing block is read. A whole file holds every block in use
    # (free blocks at its end may be cut off, so only used ones count).
    needed = DUCKDB_HEADER_BYTES + block_size * used_blocks
    if path.stat().st_size < needed:
        raise _damaged(path, f"{path.stat().st_size:,} bytes where its blocks in use need {needed:,}: truncated")


def _damaged(path: Path, reason: str) -> LocalStateError:
    return LocalStateError(
        f"{path}: the warehouse is damaged ({reason}). Run `sf-stripe-pipeline warehouse rebuild`: it keeps the file "
        "aside and rebuilds it from Salesforce and Stripe, writing to neither. Move it aside or delete it, then sync "
        "again, also works"
    )


def forget_extracted_org(path: Path | None = None) -> bool:
    """The Salesforce sandbox now holds another org (`sandbox load-org`): drop the warehouse's copy of the old one
    and its extraction watermarks, so the next sync extracts the new org whole. Incremental extraction would
    otherwise skip the new org's records older than the old watermark, and sync the old org's records that no
    longer exist. The ledger of Stripe objects stays: Stripe was not touched. True if there was a copy."""
    from sf_stripe_pipeline.warehouse import org

    path = path or home.warehouse_path()
    if not path.exists():
        return False
    check_warehouse(path)
    with duckdb.connect(str(path)) as conn:
        return org.forget_org(conn)


def discard_warehouse(path: Path | None = None) -> bool:
    """Remove the warehouse and its write-ahead log. When both sandboxes were reset (`sandbox reset`, `demo`) it
    describes an org and Stripe objects that no longer exist, so it goes whole (its ledger would name deleted Stripe
    ids); a rebuild that fails removes its half-built one. True if there was one."""
    path = path or home.warehouse_path()
    found = path.exists()
    for stale in (path, wal_of(path)):
        stale.unlink(missing_ok=True)
    return found


def wal_of(path: Path) -> Path:
    """DuckDB's write-ahead log of a database file: `<file>.wal` beside it; it belongs to the file."""
    return path.with_name(path.name + ".wal")


def move_warehouse(source: Path, target: Path) -> None:
    """Move a warehouse file with its write-ahead log, if it has one."""
    source.rename(target)
    if wal_of(source).exists():
        wal_of(source).rename(wal_of(target))
