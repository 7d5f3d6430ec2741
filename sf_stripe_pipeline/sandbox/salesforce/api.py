"""The Salesforce REST API subset the pipeline uses, answered from the on-disk org (store.py).

`SalesforceSandbox.handle` speaks Salesforce's wire formats (paths, status codes, JSON error arrays,
`Sforce-Limit-Info`, `nextRecordsUrl` pagination, the OAuth token endpoint), so simple-salesforce runs its real
request code against it, in process through `transport.in_process_session` or over loopback through `transport.serve`.
Injected faults (faults.py) make it answer as a struggling org does: expired sessions, an exhausted API allowance,
internal errors, locked rows.

Query cursors live in this process's memory, as a cursor belongs to the process that opened it; they hold
only the matching row numbers, are dropped once read to the end, and at most `MAX_OPEN_CURSORS` are kept.
"""

from __future__ import annotations

import itertools
import json
import re
import secrets
import sqlite3
import threading
from array import array
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache, lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import simple_salesforce

from sf_stripe_pipeline.sandbox import transport
from sf_stripe_pipeline.salesforce import catalogue as objects
from sf_stripe_pipeline.sandbox.salesforce import auth
from sf_stripe_pipeline.sandbox.salesforce.faults import FaultConfig, FaultInjector
from sf_stripe_pipeline.sandbox.salesforce.ids import make_id, to_18
from sf_stripe_pipeline.salesforce.catalogue import FieldSpec
from sf_stripe_pipeline.sandbox.salesforce.soql import SoqlError, parse_query
from sf_stripe_pipeline.sandbox.salesforce.store import (
    API_PREFIX,
    API_VERSION,
    INSTANCE_URL,
    SYSTEM_FIELD_NAMES,
    CompiledQuery,
    OrgStore,
    SalesforceApiError,
    SalesforceRequestRecord,
    compile_query,
    find_table,
    sandbox_now,
    table,
)
from sf_stripe_pipeline.sandbox.transport import SandboxRequest, SandboxResponse

MAX_BATCH_SIZE = 2_000
MIN_BATCH_SIZE = 200
MAX_COMPOSITE_RECORDS = 200
MAX_OPEN_CURSORS = 64
_WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
_ROLLED_BACK = SalesforceApiError(
    400,
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using AllOrNone header",
)


# ---------------------------------------------------------------------------------------------- helpers


def _json_response(status: int, payload: Any) -> SandboxResponse:
    return SandboxResponse(status, json.dumps(payload, separators=(",", ":")).encode())


def _error_response(error: SalesforceApiError) -> SandboxResponse:
    entry: dict[str, Any] = {"message": error.message, "errorCode": error.error_code}
    if error.fields:
        entry["fields"] = error.fields
    return _json_response(error.http_status, [entry])


def _json_body(request: SandboxRequest) -> Any:
    try:
        return json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError) as problem:
        raise SalesforceApiError(400, "JSON_PARSER_ERROR", f"the request body is not valid JSON: {problem}") from None


def _batch_size(request: SandboxRequest) -> int:
    """`Sforce-Query-Options: batchSize=N`, clamped to Salesforce's 200..2000."""
    match = re.search(r"batchSize\s*=\s*(\d+)", request.header("Sforce-Query-Options") or "")
    if match is None:
        return MAX_BATCH_SIZE
    return max(MIN_BATCH_SIZE, min(MAX_BATCH_SIZE, int(match.group(1))))


def _access_token(request: SandboxRequest) -> str:
    """The request's bearer token; 401 INVALID_SESSION_ID, as Salesforce answers, if it has none."""
    scheme, _, token = (request.header("Authorization") or "").partition(" ")
    if scheme.lower() not in ("bearer", "oauth") or not token.strip():
        raise SalesforceApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")
    return token.strip()


@lru_cache(maxsize=256)
def _compiled(soql: str, include_deleted: bool) -> CompiledQuery:
    try:
        return compile_query(parse_query(soql), include_deleted)
    except SoqlError as problem:
        raise SalesforceApiError(400, problem.error_code, str(problem)) from None


@cache
def _describe(sobject: str) -> dict[str, Any]:
    spec = find_table(sobject).spec
    return {
        "name": spec.name,
        "label": spec.name,
        "keyPrefix": spec.key_prefix,
        "custom": spec.name.endswith("__c"),
        "queryable": True,
        "createable": True,
        "updateable": True,
        "deletable": True,
        "fields": [
            {
                "name": field.name,
                "label": field.name,
                "type": field.type,
                "custom": field.name.endswith("__c"),
                "referenceTo": [field.reference_to] if field.reference_to else [],
                "relationshipName": field.relationship_name,
                "picklistValues": [
                    {"value": value, "label": value, "active": True, "defaultValue": False} for value in field.picklist
                ],
                "externalId": field.external_id,
                "idLookup": field.external_id or field.name == "Id",
                "nillable": field.name not in SYSTEM_FIELD_NAMES and field.type != objects.BOOLEAN,
                "createable": field.name not in SYSTEM_FIELD_NAMES,
                "updateable": field.name not in SYSTEM_FIELD_NAMES,
            }
            for field in spec.fields.values()
        ],
    }


@dataclass
class _Cursor:
    compiled: CompiledQuery
    row_numbers: array[int]
    """The matching records' row numbers in query order: 8 bytes a record, the only per-record state kept."""
    batch_size: int
    generation: int
    endpoint: str


@dataclass(frozen=True)
class _Route:
    pattern: re.Pattern[str]
    handlers: Mapping[str, str]
    """HTTP method -> name of the SalesforceSandbox method answering it."""


def _route(pattern: str, **handlers: str) -> _Route:
    return _Route(re.compile(pattern), handlers)


_API_PATH = re.compile(r"/services/data/v\d+\.\d+(?P<rest>/.*)?")
_NAME = r"(?P<{}>[^/]+)"
_ROUTES = (
    _route(r"/limits", GET="_limits"),
    _route(r"/(?P<endpoint>query|queryAll)", GET="_open_query"),
    _route(r"/(?P<endpoint>query|queryAll)/(?P<locator>[^/]+)", GET="_query_more"),
    _route(r"/sobjects/" + _NAME.format("sobject") + "/describe", GET="_describe"),
    _route(r"/sobjects/" + _NAME.format("sobject"), POST="_create"),
    _route(
        r"/sobjects/" + _NAME.format("sobject") + "/" + _NAME.format("record_id"),
        GET="_get",
        PATCH="_update",
        DELETE="_delete",
    ),
    _route(
        r"/sobjects/" + _NAME.format("sobject") + "/" + _NAME.format("field") + "/" + _NAME.format("value"),
        GET="_get_by_external_id",
        PATCH="_upsert",
    ),
    _route(r"/composite/sobjects", POST="_composite_create", PATCH="_composite_update", DELETE="_composite_delete"),
    _route(r"/composite/sobjects/" + _NAME.format("sobject") + "/" + _NAME.format("field"), PATCH="_composite_upsert"),
)


# ---------------------------------------------------------------------------------------------- the sandbox


class SalesforceSandbox:
    """A stateful local Salesforce org under `root`, answering the REST API through `handle`. Thread-safe.

    `faults` default to those in `SF_STRIPE_SALESFORCE_FAULTS` (none if unset). Opening a damaged store raises
    `SandboxStateError`; `discard_damaged_store` moves it aside and starts empty instead (for reset and load-org)."""

    def __init__(self, root: str | Path, faults: FaultConfig | None = None, *, discard_damaged_store: bool = False):
        self._store = OrgStore(root, discard_damaged=discard_damaged_store)
        self._faults = FaultInjector(faults if faults is not None else FaultConfig.from_environment())
        self._sessions = auth.Sessions()
        self._cursors: OrderedDict[str, _Cursor] = OrderedDict()
        self._cursor_lock = threading.Lock()
        self._locator_serials = itertools.count(secrets.randbelow(62**11))

    # -- the Python API

    def client(self, session_id: str | None = None) -> simple_salesforce.Salesforce:
        """An in-process simple-salesforce client for this sandbox.

        Without `session_id` it logs in as the integration user (OAuth 2.0 username-password flow, as
        `Salesforce(username=, password=, consumer_key=, consumer_secret=)` against a real org), so when its session
        expires simple-salesforce logs in again and repeats the request by itself. With `session_id` it uses that
        token as it is and cannot log in again, like a client given only an access token."""
        session = transport.in_process_session(self)
        if session_id is not None:
            return simple_salesforce.Salesforce(
                instance_url=INSTANCE_URL,
                session_id=session_id,
                version=API_VERSION,
                session=session,
                parse_float=Decimal,  # numbers exact, as the pipeline's own client reads them
            )
        return simple_salesforce.Salesforce(
            username=auth.USERNAME,
            password=auth.PASSWORD,
            consumer_key=auth.CONSUMER_KEY,
            consumer_secret=auth.CONSUMER_SECRET,
            domain=auth.LOGIN_DOMAIN,
            version=API_VERSION,
            session=session,
            parse_float=Decimal,
        )

    def configure_faults(self, faults: FaultConfig | None) -> None:
        """Inject `faults` from now on (None: none), with fresh counters."""
        self._faults = FaultInjector(faults)

    @property
    def faults(self) -> FaultConfig:
        return self._faults.config

    @property
    def logins(self) -> int:
        """Sessions issued by the OAuth token endpoint since this sandbox was opened."""
        return self._sessions.logins

    def replace_org(self, org: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, int]:
        """Replace every record of the org, atomically; see store.OrgStore.replace_org. Clears the request log."""
        counts = self._store.replace_org(org)
        with self._cursor_lock:
            self._cursors.clear()
        return counts

    def export_org(self) -> dict[str, list[dict[str, Any]]]:
        """Every record (deleted ones too) of every object, ordered by Id, as `replace_org` accepts it."""
        return self._store.export()

    def request_log(self) -> list[SalesforceRequestRecord]:
        return self._store.request_log()

    def write_count(self) -> int:
        """How many of the logged requests were writes."""
        return self._store.write_count()

    def clear_request_log(self) -> None:
        self._store.clear_request_log()

    def new_id(self, sobject: str) -> str:
        """A fresh 18-character id of `sobject`, unused in this org."""
        if sobject not in objects.SOBJECTS:
            raise ValueError(f"unknown SObject {sobject!r}; see objects.SOBJECTS")
        with self._store.writing() as connection:
            return self._store.new_id(connection, sobject)

    def close(self) -> None:
        self._store.close()

    # -- the REST API

    def handle(self, request: SandboxRequest) -> SandboxResponse:
        if request.method == "POST" and request.path.rstrip("/") == auth.TOKEN_PATH:
            return self._sessions.token_endpoint(request)  # a login, not an API request
        faults = self._faults  # one configuration for the whole request, even if reconfigured meanwhile
        is_write = request.method in _WRITE_METHODS
        try:
            token = _access_token(request)
            faults.check_session(token, self._sessions.issued_at(token))
            faults.check_request(is_write, self._store.api_usage() if faults.counts_api_usage else None)
            response = self._dispatch(request)
        except SalesforceApiError as error:
            response = _error_response(error)
        except Exception as error:  # answer as Salesforce does for its own faults, so clients see a 500
            response = _error_response(SalesforceApiError(500, "UNKNOWN_EXCEPTION", f"{type(error).__name__}: {error}"))
        usage = self._store.log_request(request.method, request.path, response.status)
        response.headers["Sforce-Limit-Info"] = f"api-usage={usage}/{faults.daily_api_limit}"
        if response.status < 400:
            faults.record_success(is_write)
        return response

    def _dispatch(self, request: SandboxRequest) -> SandboxResponse:
        api_path = _API_PATH.fullmatch(request.path.rstrip("/"))
        rest = (api_path.group("rest") or "") if api_path else None
        for route in _ROUTES if rest is not None else ():
            match = route.pattern.fullmatch(rest)
            if match is None:
                continue
            handler_name = route.handlers.get(request.method)
            if handler_name is None:
                raise SalesforceApiError(
                    405,
                    "METHOD_NOT_ALLOWED",
                    f"HTTP Method '{request.method}' not allowed. Allowed are {','.join(route.handlers)}",
                )
            handler: Callable[..., SandboxResponse] = getattr(self, handler_name)
            return handler(request, **{name: unquote(value) for name, value in match.groupdict().items()})
        raise SalesforceApiError(404, "NOT_FOUND", f"The requested resource does not exist: {request.path}")

    def _limits(self, request: SandboxRequest) -> SandboxResponse:
        used = self._store.api_usage() + 1  # this request counts
        limit = self._faults.daily_api_limit
        return _json_response(200, {"DailyApiRequests": {"Max": limit, "Remaining": limit - used}})

    def _describe(self, request: SandboxRequest, sobject: str) -> SandboxResponse:
        return _json_response(200, _describe(sobject))

    # -- queries

    def _open_query(self, request: SandboxRequest, endpoint: str) -> SandboxResponse:
        soql = (request.query.get("q") or [""])[0]
        if not soql.strip():
            raise SalesforceApiError(400, "MALFORMED_QUERY", "the query parameter q is missing or empty")
        compiled = _compiled(soql, endpoint == "queryAll")
        with self._store.reading() as connection:
            row_numbers = array("q", (row[0] for row in connection.execute(compiled.row_numbers_sql, compiled.params)))
            cursor = _Cursor(compiled, row_numbers, _batch_size(request), self._store.generation(connection), endpoint)
            return self._page(connection, cursor, 0)

    def _query_more(self, request: SandboxRequest, endpoint: str, locator: str) -> SandboxResponse:
        cursor_id, _, offset_text = locator.rpartition("-")
        with self._cursor_lock:
            cursor = self._cursors.get(cursor_id)
        offset = int(offset_text) if offset_text.isdigit() else -1
        with self._store.reading() as connection:
            if (
                cursor is None
                or cursor.generation != self._store.generation(connection)
                or not 0 < offset < len(cursor.row_numbers)
            ):
                raise SalesforceApiError(
                    400, "INVALID_QUERY_LOCATOR", f"invalid query locator {locator!r} (unknown, expired or read)"
                )
            return self._page(connection, cursor, offset, cursor_id)

    def _page(
        self, connection: sqlite3.Connection, cursor: _Cursor, offset: int, cursor_id: str | None = None
    ) -> SandboxResponse:
        """One batch of a query's records from `offset`, opening or dropping the cursor as needed."""
        end = offset + cursor.batch_size
        page_numbers = json.dumps(cursor.row_numbers[offset:end].tolist())
        records = [row[0] for row in connection.execute(cursor.compiled.page_sql, (page_numbers,))]
        payload: dict[str, Any] = {"totalSize": len(cursor.row_numbers), "done": end >= len(cursor.row_numbers)}
        with self._cursor_lock:
            if payload["done"]:
                self._cursors.pop(cursor_id or "", None)
            else:
                cursor_id = cursor_id or make_id("01g", next(self._locator_serials))
                self._cursors[cursor_id] = cursor
                self._cursors.move_to_end(cursor_id)
                while len(self._cursors) > MAX_OPEN_CURSORS:
                    self._cursors.popitem(last=False)
                payload["nextRecordsUrl"] = f"{API_PREFIX}/{cursor.endpoint}/{cursor_id}-{end}"
        # The records are JSON texts already: splice them in rather than parse and re-encode them.
        envelope = json.dumps(payload, separators=(",", ":"))[:-1]
        return SandboxResponse(200, f'{envelope},"records":[{",".join(records)}]}}'.encode())

    # -- single records

    def _get(self, request: SandboxRequest, sobject: str, record_id: str) -> SandboxResponse:
        with self._store.reading() as connection:
            record = self._store.get_record(connection, sobject, record_id)
        return _json_response(200, _only_fields(record, sobject, request))

    def _get_by_external_id(self, request: SandboxRequest, sobject: str, field: str, value: str) -> SandboxResponse:
        field_spec = self._store.external_id_field(sobject, field)
        with self._store.reading() as connection:
            ids = self._store.ids_by_external_id(connection, sobject, field_spec, value)
            _expect_one_match(sobject, field, value, ids)
            record = self._store.get_record(connection, sobject, ids[0])
        return _json_response(200, _only_fields(record, sobject, request))

    def _create(self, request: SandboxRequest, sobject: str) -> SandboxResponse:
        body = _json_body(request)
        with self._store.writing() as connection:
            record_id = self._create_one(connection, sobject, body, sandbox_now())
        return _json_response(201, {"id": record_id, "success": True, "errors": []})

    def _update(self, request: SandboxRequest, sobject: str, record_id: str) -> SandboxResponse:
        body = _json_body(request)
        with self._store.writing() as connection:
            self._update_one(connection, sobject, record_id, body, sandbox_now())
        return SandboxResponse(204, headers={})

    def _delete(self, request: SandboxRequest, sobject: str, record_id: str) -> SandboxResponse:
        with self._store.writing() as connection:
            self._delete_one(connection, sobject, record_id, sandbox_now())
        return SandboxResponse(204, headers={})

    def _upsert(self, request: SandboxRequest, sobject: str, field: str, value: str) -> SandboxResponse:
        body = _json_body(request)
        if not isinstance(body, Mapping):
            raise SalesforceApiError(400, "JSON_PARSER_ERROR", f"{sobject}: the record must be a JSON object")
        if body.get(field, value) != value:
            raise SalesforceApiError(
                400,
                "INVALID_FIELD",
                f"{sobject}.{field} is {body[field]!r} in the body but {value!r} in the URL; send it once",
                [field],
            )
        field_spec = self._store.external_id_field(sobject, field)
        with self._store.writing() as connection:
            record_id, created = self._upsert_one(
                connection, sobject, field_spec, {**body, field: value}, sandbox_now()
            )
        return _json_response(
            201 if created else 200, {"id": record_id, "success": True, "errors": [], "created": created}
        )

    # -- one record of a single or composite write (inside a write transaction)

    def _create_one(self, connection: sqlite3.Connection, sobject: str, body: Any, now: str) -> str:
        changes = self._store.encode_changes(connection, sobject, body)
        self._faults.check_record_lock(None)
        return self._store.insert(connection, sobject, changes, now)

    def _update_one(self, connection: sqlite3.Connection, sobject: str, record_id: str, body: Any, now: str) -> None:
        full_id = self._store.live_row(connection, sobject, record_id)[0]  # a missing record is 404 before field errors
        changes = self._store.encode_changes(connection, sobject, body)
        self._faults.check_record_lock(full_id)
        self._store.update(connection, sobject, record_id, changes, now)

    def _delete_one(self, connection: sqlite3.Connection, sobject: str, record_id: str, now: str) -> str:
        full_id = self._store.live_row(connection, sobject, record_id)[0]
        self._faults.check_record_lock(full_id)
        self._store.delete(connection, sobject, full_id, now)
        return full_id

    def _upsert_one(
        self, connection: sqlite3.Connection, sobject: str, field: FieldSpec, body: Mapping[str, Any], now: str
    ) -> tuple[str, bool]:
        changes = self._store.encode_changes(connection, sobject, body)
        value = changes.get(field.name)
        if value is None:
            raise SalesforceApiError(400, "MISSING_ARGUMENT", f"{field.name} not specified", [field.name])
        ids = self._store.ids_by_external_id(connection, sobject, field, value)
        if not ids:
            self._faults.check_record_lock(None)
            return self._store.insert(connection, sobject, changes, now), True
        _expect_one_match(sobject, field.name, value, ids)
        self._faults.check_record_lock(ids[0])
        self._store.update(connection, sobject, ids[0], changes, now)
        return ids[0], False

    # -- composite

    def _composite_create(self, request: SandboxRequest) -> SandboxResponse:
        def create(connection: sqlite3.Connection, sobject: str, record: dict[str, Any], now: str) -> _Outcome:
            return self._create_one(connection, sobject, record, now), True

        return self._composite(request, create)

    def _composite_update(self, request: SandboxRequest) -> SandboxResponse:
        def update(connection: sqlite3.Connection, sobject: str, record: dict[str, Any], now: str) -> _Outcome:
            # Salesforce field names are case-insensitive; its own composite examples send "id".
            record_id = record.pop("Id", None) or record.pop("id", None)
            if not isinstance(record_id, str):
                raise SalesforceApiError(400, "MISSING_ARGUMENT", "Id not specified in an update call", ["Id"])
            self._update_one(connection, sobject, record_id, record, now)
            return record_id, False

        return self._composite(request, update)

    def _composite_upsert(self, request: SandboxRequest, sobject: str, field: str) -> SandboxResponse:
        field_spec = self._store.external_id_field(sobject, field)

        def upsert(connection: sqlite3.Connection, record_sobject: str, record: dict[str, Any], now: str) -> _Outcome:
            return self._upsert_one(connection, record_sobject, field_spec, record, now)

        return self._composite(request, upsert, _UpsertTarget(sobject, field))

    def _composite_delete(self, request: SandboxRequest) -> SandboxResponse:
        """`DELETE composite/sobjects?ids=A,B&allOrNone=false`: up to 200 records of any objects, by id."""

        def delete(connection: sqlite3.Connection, given_id: str, now: str) -> _Result:
            full_id = to_18(given_id)
            try:
                if full_id is None:
                    raise SalesforceApiError(400, "MALFORMED_ID", f"malformed id {given_id}")
                sobject = objects.PREFIX_TO_SOBJECT.get(full_id[:3])
                if sobject is None:
                    unknown = f"no object has key prefix {full_id[:3]}"
                    raise SalesforceApiError(404, "NOT_FOUND", f"The requested resource does not exist: {unknown}")
                return _Result(self._delete_one(connection, sobject, full_id, now), False)
            except SalesforceApiError as error:
                return _Result(full_id, False, error)

        ids = _composite_delete_ids(request)
        return self._each_in_one_transaction(ids, _all_or_none_parameter(request), delete, reports_created=False)

    def _composite(
        self, request: SandboxRequest, operation: _Operation, upsert: _UpsertTarget | None = None
    ) -> SandboxResponse:
        """Apply `operation` to each record of a composite create, update or upsert body."""
        records, all_or_none = _composite_records(_json_body(request))
        repeated = _repeated_external_ids(records, upsert)

        def apply(connection: sqlite3.Connection, record: Any, now: str) -> _Result:
            return self._composite_one(connection, record, operation, upsert, repeated, now)

        return self._each_in_one_transaction(records, all_or_none, apply, reports_created=upsert is not None)

    def _each_in_one_transaction(
        self,
        items: Sequence[Any],
        all_or_none: bool,
        apply: Callable[[sqlite3.Connection, Any, str], _Result],
        reports_created: bool,
    ) -> SandboxResponse:
        """Apply `apply` to each item in one transaction; one result per item, in order.

        With allOrNone, any failure rolls every record back and the others report
        ALL_OR_NONE_OPERATION_ROLLED_BACK; otherwise each record stands or fails alone."""
        now = sandbox_now()
        results: list[_Result] = []
        try:
            with self._store.writing() as connection:
                for item in items:
                    results.append(apply(connection, item, now))
                if all_or_none and not all(result.error is None for result in results):
                    raise _RolledBack
        except _RolledBack:
            results = [result.rolled_back() for result in results]
        return _json_response(200, [result.as_json(reports_created) for result in results])

    @staticmethod
    def _composite_one(
        connection: sqlite3.Connection,
        record: Any,
        operation: _Operation,
        upsert: _UpsertTarget | None,
        repeated: set[Any],
        now: str,
    ) -> _Result:
        given_id = record.get("Id") if isinstance(record, Mapping) else None
        try:
            sobject = _composite_record_type(record, upsert.sobject if upsert else None)
            if upsert and _external_id_value(record, upsert) in repeated:
                raise SalesforceApiError(
                    400, "DUPLICATE_VALUE", f"Duplicate external id specified: {record[upsert.field]}", [upsert.field]
                )
            fields = {name: value for name, value in record.items() if name != "attributes"}
            record_id, created = operation(connection, sobject, fields, now)
        except SalesforceApiError as error:
            return _Result(given_id if isinstance(given_id, str) else None, False, error)
        return _Result(record_id, created)


_Outcome = tuple[str, bool]
"""A composite write's record id and whether the record was created."""
_Operation = Callable[[sqlite3.Connection, str, dict[str, Any], str], _Outcome]


@dataclass(frozen=True)
class _UpsertTarget:
    sobject: str
    field: str


@dataclass(frozen=True)
class _Result:
    """One record's outcome in a composite response."""

    record_id: str | None
    created: bool
    error: SalesforceApiError | None = None

    def rolled_back(self) -> _Result:
        if self.error is not None:
            return self
        # A created record no longer exists after the rollback, so it has no id to report.
        return _Result(None if self.created else self.record_id, False, _ROLLED_BACK)

    def as_json(self, reports_created: bool) -> dict[str, Any]:
        result: dict[str, Any] = {} if self.record_id is None else {"id": self.record_id}
        result["success"] = self.error is None
        result["errors"] = (
            []
            if self.error is None
            else [{"statusCode": self.error.error_code, "message": self.error.message, "fields": self.error.fields}]
        )
        if reports_created:
            result["created"] = self.created and self.error is None
        return result


class _RolledBack(Exception):
    """Raised inside an allOrNone composite transaction to undo it."""


def _composite_records(body: Any) -> tuple[list[Any], bool]:
    if not isinstance(body, Mapping) or not isinstance(body.get("records"), list):
        raise SalesforceApiError(400, "JSON_PARSER_ERROR", 'the body must be {"allOrNone": bool, "records": [...]}')
    records = body["records"]
    _check_composite_size(len(records))
    all_or_none = body.get("allOrNone", False)
    if not isinstance(all_or_none, bool):
        raise SalesforceApiError(400, "JSON_PARSER_ERROR", f"allOrNone must be true or false, got {all_or_none!r}")
    return records, all_or_none


def _check_composite_size(count: int) -> None:
    if count > MAX_COMPOSITE_RECORDS:
        raise SalesforceApiError(
            400,
            "EXCEEDED_ID_LIMIT",
            f"record limit reached: a composite sobjects request takes at most {MAX_COMPOSITE_RECORDS} records, "
            f"got {count}",
        )


def _composite_delete_ids(request: SandboxRequest) -> list[str]:
    """The `ids` query parameter of a composite delete: comma-separated, 1 to 200 of them."""
    ids = [part.strip() for value in request.query.get("ids", []) for part in value.split(",") if part.strip()]
    if not ids:
        raise SalesforceApiError(400, "MISSING_ARGUMENT", "ids: the comma-separated ids of the records to delete")
    _check_composite_size(len(ids))
    return ids


def _all_or_none_parameter(request: SandboxRequest) -> bool:
    value = (request.query.get("allOrNone") or ["false"])[0].strip().lower()
    if value not in ("true", "false"):
        raise SalesforceApiError(
            400, "INVALID_QUERY_PARAMETER_VALUE", f"allOrNone must be true or false, got {value!r}"
        )
    return value == "true"


def _composite_record_type(record: Any, expected: str | None) -> str:
    if not isinstance(record, Mapping):
        raise SalesforceApiError(400, "JSON_PARSER_ERROR", "each record must be a JSON object")
    attributes = record.get("attributes")
    sobject = attributes.get("type") if isinstance(attributes, Mapping) else None
    if not isinstance(sobject, str):
        raise SalesforceApiError(400, "INVALID_TYPE", "Must send a concrete entity type: attributes.type is missing")
    if sobject not in objects.SOBJECTS or (expected is not None and sobject != expected):
        wanted = f"; this request upserts {expected} records" if expected else ""
        raise SalesforceApiError(400, "INVALID_TYPE", f"sObject type {sobject!r} is not supported here{wanted}")
    return sobject


def _repeated_external_ids(records: list[Any], upsert: _UpsertTarget | None) -> set[Any]:
    """The external id values that more than one record of a composite upsert carries."""
    if upsert is None:
        return set()
    counts = Counter(_external_id_value(record, upsert) for record in records)
    return {value for value, count in counts.items() if value is not None and count > 1}


def _external_id_value(record: Any, upsert: _UpsertTarget) -> str | None:
    value = record.get(upsert.field) if isinstance(record, Mapping) else None
    return value if isinstance(value, str) else None


def _expect_one_match(sobject: str, field: str, value: Any, ids: list[str]) -> None:
    if not ids:
        raise SalesforceApiError(
            404, "NOT_FOUND", f"The requested resource does not exist: {sobject} {field}={value!r}"
        )
    if len(ids) > 1:
        urls = [table(sobject).record_url(record_id) for record_id in ids]
        raise SalesforceApiError(
            300, "MULTIPLE_CHOICES", f"more than one {sobject} record has {field}={value!r}: {', '.join(urls)}"
        )


def _only_fields(record: dict[str, Any], sobject: str, request: SandboxRequest) -> dict[str, Any]:
    """Honour `?fields=A,B` on record retrieval."""
    requested = (request.query.get("fields") or [""])[0]
    if not requested:
        return record
    names = [name.strip() for name in requested.split(",") if name.strip()]
    unknown = [name for name in names if name not in record]
    if unknown:
        raise SalesforceApiError(
            400, "INVALID_FIELD", f"No such column '{unknown[0]}' on sobject of type {sobject}", unknown
        )
    return {"attributes": record["attributes"], **{name: record[name] for name in names}}
