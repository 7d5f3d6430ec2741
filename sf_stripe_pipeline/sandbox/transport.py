"""How the real clients reach a sandbox: in process through a `requests` adapter, or over loopback HTTP.

A sandbox is any object with `handle(SandboxRequest) -> SandboxResponse`. The same object serves both
paths, so simple-salesforce and stripe-python exercise their real request code either way:

- `in_process_session(app)` returns a `requests.Session` whose transport adapter calls `app.handle`
  directly (no socket). simple-salesforce hardcodes `https://{instance}` URLs, so this is how it
  reaches the Salesforce sandbox; stripe-python takes the session through `stripe.RequestsClient`.
- `serve(app, port)` answers on 127.0.0.1 with a threaded HTTP server, for curl, a browser, or a client
  in another process.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol
from urllib.parse import parse_qs, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict


@dataclass(frozen=True)
class SandboxRequest:
    method: str
    path: str
    """URL path without the query string, e.g. `/services/data/v62.0/query`."""
    query: Mapping[str, list[str]]
    """Query string, parsed with `keep_blank_values=True`."""
    headers: Mapping[str, str]
    """Case-insensitive."""
    body: bytes = b""

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name, default)


@dataclass
class SandboxResponse:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})


class SandboxApp(Protocol):
    def handle(self, request: SandboxRequest) -> SandboxResponse: ...


def _build_request(method: str, url: str, headers: Mapping[str, str], body: bytes) -> SandboxRequest:
    parts = urlsplit(url)
    return SandboxRequest(
        method=method.upper(),
        path=parts.path or "/",
        query=parse_qs(parts.query, keep_blank_values=True),
        headers=CaseInsensitiveDict(headers),
        body=body,
    )


class InProcessAdapter(BaseAdapter):
    """A `requests` transport adapter that hands each request to a sandbox app in this process."""

    def __init__(self, app: SandboxApp):
        super().__init__()
        self.app = app

    def send(self, request: requests.PreparedRequest, **kwargs) -> requests.Response:  # type: ignore[override]
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        sandbox_request = _build_request(request.method or "GET", request.url or "/", request.headers, body)
        sandbox_response = self.app.handle(sandbox_request)

        response = requests.Response()
        response.status_code = sandbox_response.status
        response.headers = CaseInsensitiveDict(sandbox_response.headers)
        response._content = sandbox_response.body
        response.encoding = "utf-8"
        response.url = request.url or ""
        response.request = request
        response.reason = "OK" if sandbox_response.status < 400 else "Error"
        return response

    def close(self) -> None:
        pass


def in_process_session(app: SandboxApp) -> requests.Session:
    """A session that sends every http(s) request to `app`, whatever the host."""
    session = requests.Session()
    adapter = InProcessAdapter(app)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def _handler_for(app: SandboxApp) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in separate sends; with Nagle's algorithm on, the delayed ACK of the first stalls
        # every keep-alive request by ~40 ms.
        disable_nagle_algorithm = True

        def _dispatch(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request = _build_request(self.command, self.path, dict(self.headers.items()), body)
            response = app.handle(request)
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)

        do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _dispatch

        def log_message(self, format: str, *args) -> None:  # noqa: A002 - signature fixed by the base class
            pass  # the sandboxes keep their own request logs

    return Handler


class LoopbackServer:
    """A sandbox served on 127.0.0.1 in a background thread. Use as a context manager or call `close()`."""

    def __init__(self, app: SandboxApp, port: int = 0):
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(app))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="sandbox-http", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LoopbackServer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def serve(app: SandboxApp, port: int = 0) -> LoopbackServer:
    return LoopbackServer(app, port)
