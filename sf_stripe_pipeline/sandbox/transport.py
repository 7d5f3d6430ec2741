"""How the real clients reach a sandbox: in process through a `requests` adapter, or over loopback HTTP.

A sandbox is any object with `handle(SandboxRequest) -> SandboxResponse`. The same object serves both
paths, so simple-salesforce and stripe-python exercise their real request code either way:

- `in_process_session(app)` returns a `requests.Session` whose transport adapter calls `app.handle`
  directly (no socket). simple-salesforce hardcodes `https://{instance}` URLs, so this is how it
  reaches the Salesforce sandbox; stripe-python takes the session through `stripe.RequestsClient`.
- `serve(app, port)` answers on 127.0.0.1 (uvicorn in a background thread), for curl, a browser, or a client
  in another process.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import parse_qs, urlsplit

import requests
import uvicorn
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
    session.trust_env = False  # no proxies or netrc apply to an in-process call; reading them costs ~1 ms each
    adapter = InProcessAdapter(app)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def _asgi_app(app: SandboxApp, executor: ThreadPoolExecutor):
    """The sandbox as an ASGI application, for uvicorn. Each request runs on `executor`, so a request that waits
    (injected latency, a store lock) does not hold up the others, as concurrent requests to a real API overlap."""

    async def asgi(scope: dict, receive, send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        query = scope["query_string"].decode("latin-1")
        url = scope["path"] + (f"?{query}" if query else "")
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        request = _build_request(scope["method"], url, headers, body)
        response = await asyncio.get_running_loop().run_in_executor(executor, app.handle, request)
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": [(name.encode("latin-1"), value.encode("latin-1")) for name, value in response.headers.items()],
            }
        )
        await send({"type": "http.response.body", "body": response.body})

    return asgi


REQUEST_THREADS = 32
"""Requests a loopback server handles at once (the sandboxes serialize their own store writes)."""


class LoopbackServer:
    """A sandbox served on 127.0.0.1 by uvicorn (httptools parser) in a background thread.

    Use as a context manager or call `close()`. `port=0` picks a free port; `url` tells which. uvicorn rather than
    `http.server`: the HTTP stack, not the sandbox, bounds single-client throughput, and uvicorn's C parser serves
    about 1.6x the requests per second.
    """

    def __init__(self, app: SandboxApp, port: int = 0):
        self._socket = socket.create_server(("127.0.0.1", port))
        # Accepted connections inherit TCP_NODELAY (Linux). Without it, Nagle's algorithm and the client's delayed
        # ACK stall each keep-alive response by ~40 ms.
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._executor = ThreadPoolExecutor(max_workers=REQUEST_THREADS, thread_name_prefix="sandbox-request")
        config = uvicorn.Config(
            _asgi_app(app, self._executor),
            http="httptools",
            loop="asyncio",
            lifespan="off",
            log_level="warning",
            access_log=False,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="sandbox-http", daemon=True
        )
        self._thread.start()
        while not self._server.started and self._thread.is_alive():
            time.sleep(0.01)

    @property
    def url(self) -> str:
        host, port = self._socket.getsockname()[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        # A sandbox has nothing to drain: stop at once rather than wait for idle keep-alive connections.
        self._server.should_exit = True
        self._server.force_exit = True
        self._thread.join(timeout=5)
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._socket.close()

    def __enter__(self) -> LoopbackServer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def serve(app: SandboxApp, port: int = 0) -> LoopbackServer:
    return LoopbackServer(app, port)
