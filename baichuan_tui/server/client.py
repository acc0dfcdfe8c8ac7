"""HTTP to a llama-server: JSON requests, an SSE stream, and every fault as one UserError line.

Standard library only (``http.client``). Each request opens its own connection, so any thread
may call; a stream's :meth:`SSEStream.close` (from any thread) shuts its socket, which is how a
reply is cancelled: llama-server stops the task and frees the slot when the client goes away.
The API key travels only in the ``Authorization`` header; nothing here prints or stores it.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import json
import os
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from baichuan_tui.errors import UserError

API_KEY_ENV = "BAICHUAN_CHAT_API_KEY"
"""The environment variable the API key is read from unless another is named."""

DEFAULT_TIMEOUT = 30.0
"""Seconds to wait for a connection or an answer to a short request."""


class ServerError(UserError):
    """A server that cannot be reached, refuses us, or is not a llama-server."""


class ServerGone(ServerError):
    """The server closed the connection in the middle of a reply."""


@dataclass(frozen=True)
class Address:
    """Where a server is: ``http(s)://host:port`` plus an optional path prefix."""

    scheme: str
    host: str
    port: int
    prefix: str = ""

    @classmethod
    def parse(cls, url: str) -> Address:
        """``http://host:port[/prefix]``, ``https://…`` or a bare ``host:port``."""
        text = url.strip()
        if "://" not in text:
            text = "http://" + text
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ServerError(f"not a server URL: {url!r}", "use http://HOST:PORT")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise ServerError(f"not a server URL: {url!r}", "the port must be a number") from None
        return cls(parts.scheme, parts.hostname, port, parts.path.rstrip("/"))

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{self.prefix}"

    @property
    def loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def transport_warning(address: Address) -> str | None:
    """One line when requests (and replies) would cross the network unencrypted."""
    if address.scheme == "http" and not address.loopback:
        return (
            f"warning: {address.url} is plain http: prompts and replies cross the network "
            "unencrypted (tunnel it, e.g. ssh -L)"
        )
    return None


def api_key_from_env(var: str = API_KEY_ENV) -> str | None:
    """The API key in ``var`` (None when unset or empty)."""
    return os.environ.get(var) or None


class _Secret:
    """A value that never shows in a repr, a log or a traceback's locals."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "<hidden>"


class ServerClient:
    """Requests to one llama-server."""

    def __init__(
        self, url: str, *, api_key: str | None = None, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.address = Address.parse(url)
        self.timeout = timeout
        self._key = _Secret(api_key) if api_key else None

    def __repr__(self) -> str:  # never the key
        return f"ServerClient({self.address.url!r})"

    @property
    def url(self) -> str:
        return self.address.url

    def auth_header(self) -> dict[str, str]:
        """The ``Authorization`` header when an API key is set (for another HTTP client)."""
        return {"Authorization": f"Bearer {self._key.value}"} if self._key is not None else {}

    @property
    def _headers(self) -> dict[str, str]:
        return {"Content-Type": "application/json", "Accept": "application/json"} | (
            self.auth_header()
        )

    # -- requests --------------------------------------------------------------------------
    def get(self, path: str) -> Any:
        """GET ``path``; the decoded JSON answer."""
        return self._json("GET", path, None)

    def post(self, path: str, body: dict[str, Any], *, timeout: float | None = None) -> Any:
        """POST ``body`` as JSON to ``path``; the decoded JSON answer."""
        return self._json("POST", path, body, timeout)

    def stream(self, path: str, body: dict[str, Any]) -> SSEStream:
        """POST ``body`` and read the answer as server-sent events.

        Waits without a time limit for the answer (llama-server sends its headers with the
        first token, after the prompt is evaluated); the connection itself times out as usual.
        """
        conn = self._connect(self.timeout)
        try:
            conn.request("POST", self.address.prefix + path, json.dumps(body), self._headers)
            if conn.sock is not None:
                conn.sock.settimeout(None)
            resp = conn.getresponse()
        except BaseException as exc:
            conn.close()
            raise self._fault(exc) from None
        stream = SSEStream(conn, resp, self)
        if resp.status != 200:
            data = resp.read()
            stream.close()
            raise self._status_error(resp.status, path, data)
        return stream

    def _json(
        self, method: str, path: str, body: dict[str, Any] | None, timeout: float | None = None
    ) -> Any:
        conn = self._connect(timeout or self.timeout)
        try:
            payload = None if body is None else json.dumps(body)
            conn.request(method, self.address.prefix + path, payload, self._headers)
            resp = conn.getresponse()
            data = resp.read()
        except BaseException as exc:
            raise self._fault(exc) from None
        finally:
            conn.close()
        if resp.status != 200:
            raise self._status_error(resp.status, path, data)
        try:
            return json.loads(data)
        except ValueError:
            raise self.not_llama_server(f"{path} did not answer JSON") from None

    def _connect(self, timeout: float) -> http.client.HTTPConnection:
        a = self.address
        if a.scheme == "https":
            return http.client.HTTPSConnection(
                a.host, a.port, timeout=timeout, context=ssl.create_default_context()
            )
        return http.client.HTTPConnection(a.host, a.port, timeout=timeout)

    # -- faults ----------------------------------------------------------------------------
    def not_llama_server(self, why: str) -> ServerError:
        return ServerError(
            f"{self.url} is not a llama-server ({why})", "check the URL given with --server"
        )

    def _fault(self, exc: BaseException) -> BaseException:
        """One line for a transport error (other exceptions pass through unchanged)."""
        url = self.url
        if isinstance(exc, ServerError):
            return exc
        if isinstance(exc, socket.gaierror):
            return ServerError(
                f"cannot resolve the server's host name '{self.address.host}'",
                "check the URL given with --server",
            )
        if isinstance(exc, ConnectionRefusedError):
            return ServerError(
                f"nothing is listening at {url}", "start llama-server there or check the URL"
            )
        if isinstance(exc, TimeoutError):
            return ServerError(
                f"{url} did not answer within {self.timeout:g} s",
                "check that the server is up and reachable",
            )
        if isinstance(exc, ssl.SSLError):
            return ServerError(f"TLS with {url} failed ({exc.reason or exc})")
        if isinstance(exc, http.client.BadStatusLine | http.client.IncompleteRead):
            return self.not_llama_server("it did not answer HTTP")
        if isinstance(exc, ConnectionError | http.client.HTTPException | OSError):
            return ServerError(f"the connection to {url} failed ({type(exc).__name__})")
        return exc

    def _status_error(self, status: int, path: str, data: bytes) -> ServerError:
        message = _error_message(data)
        if status in (401, 403):
            return ServerError(
                f"{self.url} refused the request ({status} {message or 'unauthorized'})",
                f"set the server's API key in ${API_KEY_ENV} (or the variable configured)",
            )
        if status == 503 and message and "loading" in message.lower():
            return ServerError(f"{self.url} is still loading its model", "try again shortly")
        if status == 404:
            return self.not_llama_server(f"{path} answered 404")
        if message is None:
            return self.not_llama_server(f"{path} answered {status}")
        return ServerError(f"{self.url} answered {status}: {message}")


def _error_message(data: bytes) -> str | None:
    """llama-server's ``{"error": {"message": ...}}`` text, else None."""
    try:
        body = json.loads(data)
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"]).splitlines()[0] if error["message"] else ""
    return None


class SSEStream:
    """The events of one streamed answer; :meth:`close` from any thread ends it."""

    def __init__(
        self, conn: http.client.HTTPConnection, resp: http.client.HTTPResponse, client: ServerClient
    ) -> None:
        self._conn = conn
        self._resp = resp
        self._client = client
        self._closed = threading.Event()
        self.ended = False
        """Whether the server ended the stream itself (``data: [DONE]`` or end of body)."""

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called (a cancel, not a fault)."""
        return self._closed.is_set()

    def close(self) -> None:
        """Stop reading: shut the socket so a blocked read returns at once."""
        if self._closed.is_set():
            return
        self._closed.set()
        sock = self._conn.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._conn.close()

    def events(self) -> Iterator[dict[str, Any]]:
        """Each ``data:`` object. A dropped connection raises :class:`ServerGone`, unless
        :meth:`close` caused it (then the iteration just ends)."""
        data: list[str] = []
        while True:
            try:
                raw = self._resp.readline()
            except (OSError, ValueError, http.client.HTTPException, AttributeError) as exc:
                if self.closed:
                    return
                raise self._gone(exc) from None
            if not raw:
                if self.closed:
                    return
                raise self._gone(None)
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
                continue
            if line or not data:
                continue  # a comment (ping), an event name, or a stray blank line
            text, data = "\n".join(data), []
            if text == "[DONE]":
                self.ended = True
                return
            try:
                event = json.loads(text)
            except ValueError:
                raise self._client.not_llama_server("its stream is not JSON events") from None
            if isinstance(event, dict) and isinstance(event.get("error"), dict):
                message = event["error"].get("message", "")
                raise ServerError(f"{self._client.url} stopped the reply: {message}")
            if isinstance(event, dict):
                yield event

    def _gone(self, exc: BaseException | None) -> ServerGone:
        why = f" ({type(exc).__name__})" if exc is not None else ""
        return ServerGone(
            f"the server {self._client.url} closed the connection in the middle of the reply{why}",
            "what came before is kept; check the server",
        )
