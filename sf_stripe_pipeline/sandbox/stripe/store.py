"""The Stripe sandbox's state on disk: objects, idempotent responses and the request log, in one SQLite file.

SQLite in WAL mode lets a Dagster run and the CLI open the same folder at once: every request runs in
one `BEGIN IMMEDIATE` transaction, so writers from several processes serialize and readers never see
half a request. Objects are stored as their JSON; the fields lists filter on are reached through
expression indexes on `json_extract`, and the newest-first order through an index on
(object, created, seq), so neither a create nor a list page scans the store.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sf_stripe_pipeline.sandbox import integrity

DATABASE_FILE = "stripe.sqlite3"
APPLICATION_ID = 0x53465354  # "SFST": marks the SQLite file as a Stripe sandbox store

INDEXED_FIELDS = ("lookup_key", "subscription", "customer", "product", "active")
"""Object fields the list endpoints filter on often enough to deserve an index, most selective first."""

_COLUMNS = frozenset({"id", "created"})
_FIELD_NAME = re.compile(r"[a-z_]+")

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS objects (
        seq INTEGER PRIMARY KEY,
        object TEXT NOT NULL,
        id TEXT NOT NULL,
        created INTEGER NOT NULL,
        deleted INTEGER NOT NULL DEFAULT 0,
        data TEXT NOT NULL,
        UNIQUE (id, object))""",  # id first: also serves lookups by id alone (expand)
    "CREATE INDEX IF NOT EXISTS objects_newest ON objects (object, created, seq)",
    # Partial indexes: an object without the field (most types lack most of these) costs no index write.
    *(
        f"CREATE INDEX IF NOT EXISTS objects_by_{field}"
        f" ON objects (object, json_extract(data, '$.{field}'), created, seq)"
        f" WHERE json_extract(data, '$.{field}') IS NOT NULL"
        for field in INDEXED_FIELDS
    ),
    """CREATE TABLE IF NOT EXISTS idempotency (
        key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, status INTEGER NOT NULL, body BLOB NOT NULL,
        request_id TEXT NOT NULL, created INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID""",
    "CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID",
    """CREATE TABLE IF NOT EXISTS request_log (
        seq INTEGER PRIMARY KEY, method TEXT NOT NULL, path TEXT NOT NULL, params TEXT NOT NULL,
        idempotency_key TEXT, status INTEGER NOT NULL, request_id TEXT NOT NULL, at TEXT NOT NULL)""",
]


WRITE_METHODS = ("POST", "DELETE")


@dataclass(frozen=True)
class StripeRequestRecord:
    seq: int
    method: str
    path: str
    params: dict[str, Any]
    """Decoded form/query parameters as sent (nested dicts, string leaves)."""
    idempotency_key: str | None
    status: int
    request_id: str
    at: datetime
    """Wall-clock time the request was answered (UTC)."""

    @property
    def is_write(self) -> bool:
        return self.method in WRITE_METHODS


@dataclass(frozen=True)
class StoredResponse:
    fingerprint: str
    status: int
    body: bytes
    request_id: str
    created: int = 0
    """Sandbox-clock time the response was saved: Stripe forgets a key 24 hours after its first use."""


class SandboxStateError(Exception):
    """The sandbox folder does not hold a readable Stripe sandbox store (corrupt, truncated, or another file)."""

    def __init__(self, database: Path, reason: str):
        super().__init__(
            f"The Stripe sandbox state {database} is corrupt or is not a Stripe sandbox store ({reason}). "
            f"Delete the folder {database.parent} to start again from an empty Stripe sandbox, then run "
            "`sf-stripe-pipeline sandbox reset` to reload the demo org."
        )
        self.database = database


@dataclass(frozen=True)
class Condition:
    """One list filter: `field op value`; `field` is an object field, or the `id` / `created` column."""

    field: str
    op: str  # one of "=", "!=", "<", "<=", ">", ">=", "in", "is null", "is not null"
    value: Any = None


_OPERATORS = frozenset({"=", "!=", "<", "<=", ">", ">="})


class StripeStore:
    def __init__(self, root: Path):
        root.mkdir(parents=True, exist_ok=True)
        database = root / DATABASE_FILE
        self._lock = threading.RLock()
        try:
            self._connection = sqlite3.connect(database, timeout=30, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as error:
            raise SandboxStateError(database, str(error)) from error
        try:
            self._open_checked(database)
        except sqlite3.DatabaseError as error:
            self._connection.close()
            raise SandboxStateError(database, str(error)) from error
        except SandboxStateError:
            self._connection.close()
            raise

    def _open_checked(self, database: Path) -> None:
        """Refuse, within a moment, a file that is not an intact sandbox store, before anything writes to it."""
        application_id = self._connection.execute("PRAGMA application_id").fetchone()[0]
        tables = {name for (name,) in self._connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if application_id not in (0, APPLICATION_ID) or (tables and "objects" not in tables):
            raise SandboxStateError(database, "the SQLite file holds another application's data")
        if not integrity.known_intact(database):
            problems = [row[0] for row in self._connection.execute("PRAGMA quick_check(3)")]
            if problems != ["ok"]:
                raise SandboxStateError(database, "; ".join(problems))
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute("PRAGMA synchronous=NORMAL")
        with self.transaction():
            for statement in _SCHEMA:
                self._connection.execute(statement)
            idempotency_columns = {row[1] for row in self._connection.execute("PRAGMA table_info(idempotency)")}
            if "created" not in idempotency_columns:  # a store from before keys expired
                self._connection.execute("ALTER TABLE idempotency ADD COLUMN created INTEGER NOT NULL DEFAULT 0")
            if application_id != APPLICATION_ID:
                self._connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        integrity.mark_intact(database)

    @staticmethod
    def discard(root: Path) -> None:
        """Delete the store's files (for a `sandbox reset` that must also recover from a corrupt store)."""
        for suffix in ("", "-wal", "-shm"):
            (root / f"{DATABASE_FILE}{suffix}").unlink(missing_ok=True)
        if root.exists() and not any(root.iterdir()):
            shutil.rmtree(root)

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        """One atomic unit, exclusive against this and other processes' writers."""
        return self._atomic("BEGIN IMMEDIATE", "COMMIT", ("ROLLBACK",))

    def savepoint(self) -> contextlib.AbstractContextManager[None]:
        """Undo a failed operation's partial writes while keeping the surrounding transaction."""
        return self._atomic("SAVEPOINT operation", "RELEASE operation", ("ROLLBACK TO operation", "RELEASE operation"))

    @contextlib.contextmanager
    def _atomic(self, begin: str, commit: str, rollback: tuple[str, ...]) -> Iterator[None]:
        with self._lock:
            self._connection.execute(begin)
            try:
                yield
            except BaseException:
                for statement in rollback:
                    self._connection.execute(statement)
                raise
            self._connection.execute(commit)

    # -- objects ---------------------------------------------------------------------------------

    def get(self, object_name: str, object_id: str) -> dict[str, Any] | None:
        row = self._query_one("SELECT data FROM objects WHERE object = ? AND id = ?", (object_name, object_id))
        return json.loads(row[0]) if row else None

    def find_by_id(self, object_id: str) -> list[dict[str, Any]]:
        """Every object with this id, whatever its type (custom ids may repeat across types)."""
        rows = self._query("SELECT data FROM objects WHERE id = ?", (object_id,))
        return [json.loads(data) for (data,) in rows]

    def insert(self, obj: dict[str, Any]) -> None:
        with self._lock:
            self._connection.execute(
                "INSERT INTO objects (object, id, created, data) VALUES (?, ?, ?, ?)",
                (obj["object"], obj["id"], obj.get("created", 0), json.dumps(obj)),
            )

    def replace(self, obj: dict[str, Any]) -> None:
        with self._lock:
            self._connection.execute(
                "UPDATE objects SET data = ?, deleted = ? WHERE object = ? AND id = ?",
                (json.dumps(obj), int(bool(obj.get("deleted"))), obj["object"], obj["id"]),
            )

    def remove(self, object_name: str, object_id: str) -> None:
        with self._lock:
            self._connection.execute("DELETE FROM objects WHERE object = ? AND id = ?", (object_name, object_id))

    def find(self, object_name: str, conditions: Sequence[Condition], limit: int | None = None) -> list[dict[str, Any]]:
        """Live objects matching every condition, newest first."""
        where, args, order_column = self._where(object_name, conditions)
        sql = f"SELECT data FROM objects WHERE {where} ORDER BY {order_column} DESC, seq DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [json.loads(data) for (data,) in self._query(sql, args)]

    def page(
        self,
        object_name: str,
        conditions: Sequence[Condition],
        limit: int,
        after: str | None = None,
        before: str | None = None,
    ) -> tuple[list[dict[str, Any]], bool]:
        """One newest-first page after (older than) or before (newer than) a cursor object, plus has_more."""
        where, args, order_column = self._where(object_name, conditions)
        order = "DESC"
        cursor_id = after or before
        if cursor_id is not None:
            cursor = self._query_one(
                "SELECT created, seq FROM objects WHERE object = ? AND id = ?", (object_name, cursor_id)
            )
            if cursor is None:
                raise LookupError(cursor_id)
            where += " AND (created, seq) < (?, ?)" if after else " AND (created, seq) > (?, ?)"
            args.extend(cursor)
            order = "DESC" if after else "ASC"
        ordering = f"ORDER BY {order_column} {order}, seq {order} LIMIT {int(limit) + 1}"
        sql = f"SELECT data FROM objects WHERE {where} {ordering}"
        rows = [json.loads(data) for (data,) in self._query(sql, args)]
        has_more = len(rows) > limit
        rows = rows[:limit]
        if order == "ASC":
            rows.reverse()
        return rows, has_more

    def search(
        self, object_name: str, where: str, args: Sequence[Any], limit: int, after: tuple[int, int] | None
    ) -> tuple[list[dict[str, Any]], bool, tuple[int, int] | None]:
        """One newest-first page of live objects matching a search's SQL condition (built by search.py over
        `data`), after a (created, seq) cursor; returns the rows, has_more and the cursor of the last row."""
        sql = f"SELECT created, seq, data FROM objects WHERE object = ? AND deleted = 0 AND ({where})"
        arguments: list[Any] = [object_name, *args]
        if after is not None:
            sql += " AND (created, seq) < (?, ?)"
            arguments.extend(after)
        sql += f" ORDER BY created DESC, seq DESC LIMIT {int(limit) + 1}"
        rows = self._query(sql, arguments)
        page = rows[:limit]
        cursor = (page[-1][0], page[-1][1]) if page else None
        return [json.loads(data) for _, _, data in page], len(rows) > limit, cursor

    def _where(self, object_name: str, conditions: Sequence[Condition]) -> tuple[str, list[Any], str]:
        """The WHERE clause, its arguments, and the ORDER BY column that keeps the plan on the right index.

        Without statistics SQLite guesses poorly between our indexes, so the plan is chosen here: the most
        selective indexed equality (INDEXED_FIELDS order) drives; other indexed fields are written `+expr`
        so they filter without competing; after an IN, ordering by `+created` stops SQLite from walking the
        whole type in date order instead.
        """
        clauses = ["object = ?", "deleted = 0"]
        args: list[Any] = [object_name]
        driving = next(
            (
                field
                for field in INDEXED_FIELDS
                for condition in conditions
                if condition.field == field and condition.op in ("=", "in")
            ),
            None,
        )
        order_column = "created"
        for condition in conditions:
            if not _FIELD_NAME.fullmatch(condition.field):
                raise ValueError(f"not a field name: {condition.field!r}")
            # The expression must match the index definitions' text for SQLite to use them.
            column = condition.field if condition.field in _COLUMNS else f"json_extract(data, '$.{condition.field}')"
            if condition.field in INDEXED_FIELDS and condition.field != driving:
                column = f"+{column}"
            if condition.op == "in":
                values = list(condition.value)
                # `IS NOT NULL` spelled out: SQLite does not infer it from IN, and the partial index needs it.
                clauses.append(f"{column} IN ({', '.join('?' * len(values))}) AND {column} IS NOT NULL")
                args.extend(values)
                order_column = "+created" if condition.field == driving else order_column
            elif condition.op in ("is null", "is not null"):
                clauses.append(f"{column} {condition.op.upper()}")
            elif condition.op in _OPERATORS:
                clauses.append(f"{column} {condition.op} ?")
                args.append(condition.value)
            else:
                raise ValueError(f"unknown operator: {condition.op!r}")
        return " AND ".join(clauses), args, order_column

    # -- idempotency -----------------------------------------------------------------------------

    def stored_response(self, key: str) -> StoredResponse | None:
        row = self._query_one(
            "SELECT fingerprint, status, body, request_id, created FROM idempotency WHERE key = ?", (key,)
        )
        return StoredResponse(*row) if row else None

    def store_response(self, key: str, response: StoredResponse) -> None:
        with self._lock:
            self._connection.execute(
                "INSERT OR REPLACE INTO idempotency (key, fingerprint, status, body, request_id, created)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (key, response.fingerprint, response.status, response.body, response.request_id, response.created),
            )

    # -- counters --------------------------------------------------------------------------------

    def counter(self, name: str) -> int:
        row = self._query_one("SELECT value FROM counters WHERE name = ?", (name,))
        return row[0] if row else 0

    def increment(self, name: str) -> None:
        with self._lock:
            self._connection.execute(
                "INSERT INTO counters (name, value) VALUES (?, 1) ON CONFLICT (name) DO UPDATE SET value = value + 1",
                (name,),
            )

    def reset_counter(self, name: str) -> None:
        with self.transaction():
            self._connection.execute("DELETE FROM counters WHERE name = ?", (name,))

    # -- request log -----------------------------------------------------------------------------

    def log_request(
        self,
        method: str,
        path: str,
        params: dict[str, Any],
        idempotency_key: str | None,
        status: int,
        request_id: str,
    ) -> None:
        with self._lock:
            self._connection.execute(
                "INSERT INTO request_log (method, path, params, idempotency_key, status, request_id, at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (method, path, json.dumps(params), idempotency_key, status, request_id, datetime.now(UTC).isoformat()),
            )

    def request_log(self) -> list[StripeRequestRecord]:
        rows = self._query(
            "SELECT seq, method, path, params, idempotency_key, status, request_id, at FROM request_log ORDER BY seq",
            (),
        )
        return [
            StripeRequestRecord(
                seq, method, path, json.loads(params), key, status, request_id, datetime.fromisoformat(at)
            )
            for seq, method, path, params, key, status, request_id, at in rows
        ]

    def write_count(self) -> int:
        """How many write requests (StripeRequestRecord.is_write) the log holds, counted without reading it."""
        query = f"SELECT count(*) FROM request_log WHERE method IN ({', '.join('?' * len(WRITE_METHODS))})"
        return self._query(query, WRITE_METHODS)[0][0]

    def clear_request_log(self) -> None:
        with self.transaction():
            self._connection.execute("DELETE FROM request_log")

    def reset(self) -> None:
        with self.transaction():
            for table in ("objects", "idempotency", "request_log", "counters"):
                self._connection.execute(f"DELETE FROM {table}")

    # -- helpers ---------------------------------------------------------------------------------

    def _query(self, sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._connection.execute(sql, args).fetchall()

    def _query_one(self, sql: str, args: Sequence[Any]) -> tuple[Any, ...] | None:
        with self._lock:
            return self._connection.execute(sql, args).fetchone()
