"""slack_sdk's WebClient over kept-alive HTTP/1.1 connections.

slack_sdk sends every Web API call with `urllib.request.urlopen`: a new TCP (and TLS)
connection per call, built through urllib's opener chain, closed after one answer.
App Home refreshes and modal opens are a third of people's requests
(docs/performance.md, Ack path), so each one paid for a connection's set-up and
tear-down. `KeepAliveWebClient` replaces only that last step
(`_perform_urllib_http_request_internal`): the request slack_sdk built (URL, headers,
body) goes out on a connection this thread keeps per host, and the answer comes back
in the shape urllib gives, so everything above it is slack_sdk's, unchanged: its
retry handlers (429 with Retry-After, 5xx, connection errors; bot.gateway.slack
configures them), its error for `ok: false`, its response object.

What urllib does and this keeps: a status outside 2xx raises `HTTPError` (the retry
handlers read its status, headers and body); an error while connecting or sending
raises `URLError`, an error while reading the answer is raised as it is (both are
what slack_sdk's ConnectionErrorRetryHandler retries). A kept connection is used
again only if it sat idle briefly and the server has not closed it (nothing to read
on it); a connection the server closed while the request was being sent on it is
dropped and the request sent once more on a new one, before any retry handler sees
it (the server closed it idle, so it never read the request).
"""

from __future__ import annotations

import http.client
import io
import select
import threading
import time
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit
from urllib.request import Request

from slack_sdk import WebClient

# A connection idle longer than this is closed rather than used again: servers and load
# balancers close idle keep-alive connections (commonly after 60 s), and a request sent on
# one they are closing could be lost between the two.
MAX_IDLE_SECONDS = 20.0


def _readable(sock: Any) -> bool:
    poller = select.poll()  # not select.select: it cannot watch descriptors above 1023
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


class _SendFailed(Exception):
    def __init__(self, cause: OSError) -> None:
        super().__init__(str(cause))
        self.cause = cause


def _exchange(
    connection: http.client.HTTPConnection, method: str, path: str, data: Any, headers: dict[str, str]
) -> tuple[http.client.HTTPResponse, bytes]:
    try:
        connection.request(method, path, body=data, headers=headers)
    except OSError as error:  # refused, unreachable, timed out, reset while connecting or sending
        raise _SendFailed(error) from error
    response = connection.getresponse()
    return response, response.read()


class _Kept:
    __slots__ = ("connection", "used_at")

    def __init__(self, connection: http.client.HTTPConnection) -> None:
        self.connection = connection
        self.used_at = time.monotonic()


class KeepAliveWebClient(WebClient):
    """A WebClient whose calls reuse one HTTP/1.1 connection per thread and host."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._kept = threading.local()

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        parts = urlsplit(url)
        if self.proxy is not None or parts.scheme not in ("http", "https") or not parts.hostname:
            return super()._perform_urllib_http_request_internal(url, req)  # type: ignore[no-any-return]
        key = (parts.scheme, parts.hostname, parts.port)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        headers = dict(req.header_items())
        kept = self._take(key)
        try:
            if kept is None:
                kept = self._connect(key)
                response, body = _exchange(kept.connection, req.get_method(), path, req.data, headers)
            else:
                try:
                    response, body = _exchange(kept.connection, req.get_method(), path, req.data, headers)
                except (_SendFailed, http.client.RemoteDisconnected) as error:
                    if isinstance(error, _SendFailed) and not isinstance(error.cause, ConnectionError):
                        raise
                    kept.connection.close()  # the server had closed it while idle: a new one, once
                    kept = self._connect(key)
                    response, body = _exchange(kept.connection, req.get_method(), path, req.data, headers)
        except _SendFailed as failed:
            assert kept is not None
            kept.connection.close()
            raise URLError(failed.cause) from failed.cause  # as urllib does for errors while sending
        except BaseException:
            if kept is not None:
                kept.connection.close()
            raise
        if response.will_close:
            kept.connection.close()
        else:
            kept.used_at = time.monotonic()
            self._connections()[key] = kept
        if not 200 <= response.status < 300:
            raise HTTPError(url, response.status, response.reason, response.msg, io.BytesIO(body))
        if response.msg.get_content_type() == "application/gzip":  # admin.analytics.getFile
            return {"status": response.status, "headers": response.msg, "body": body}
        charset = response.msg.get_content_charset() or "utf-8"
        return {"status": response.status, "headers": response.msg, "body": body.decode(charset)}

    def _connections(self) -> dict[tuple[Any, ...], _Kept]:
        connections: dict[tuple[Any, ...], _Kept] | None = getattr(self._kept, "connections", None)
        if connections is None:
            connections = self._kept.connections = {}
        return connections

    def _take(self, key: tuple[Any, ...]) -> _Kept | None:
        kept = self._connections().pop(key, None)
        if kept is None:
            return None
        sock = kept.connection.sock
        idle = time.monotonic() - kept.used_at
        # Readable while idle means the server closed it (or sent what nobody asked for).
        if sock is None or idle > MAX_IDLE_SECONDS or _readable(sock):
            kept.connection.close()
            return None
        return kept

    def _connect(self, key: tuple[Any, ...]) -> _Kept:
        scheme, host, port = key
        if scheme == "https":
            connection: http.client.HTTPConnection = http.client.HTTPSConnection(
                host, port, timeout=self.timeout, context=self.ssl
            )
        else:
            connection = http.client.HTTPConnection(host, port, timeout=self.timeout)
        return _Kept(connection)
