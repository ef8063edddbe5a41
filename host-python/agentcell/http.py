"""The HTTP policy behind the component's `http-client` import.

Deny by default: a request goes out only when its destination matches an entry of the
allow-list. Entries (the same rules in every host):

* ``"*"``: every destination;
* ``"host"``: that host on any port (``"example.com"``, ``"127.0.0.1"``, ``"[::1]"``);
* ``"host:port"``: that host on that port only.

Hosts compare case-insensitively; only ``http`` and ``https`` URLs are sent. Redirects
are not followed (a redirect could leave the allow-list): a 3xx is returned as it is.
Each request waits at most `timeout` seconds, or less when the component asks for less.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ._checks import strings

__all__ = ["HttpFailure", "HttpPolicy", "HttpResult"]


class HttpFailure(Exception):
    """No response; `kind` is the WIT `http-error` case."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class HttpResult:
    status: int
    headers: list[tuple[str, str]]
    body: str
    body_encoding: str


_opener: Any = None


def _open(request: Any, timeout: float) -> Any:
    # urllib is imported on first use: it costs ~25 ms of start-up otherwise.
    global _opener
    import urllib.request

    if _opener is None:

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *_args: object, **_kwargs: object) -> None:
                return None

        _opener = urllib.request.build_opener(NoRedirect)
    return _opener.open(request, timeout=timeout)


_METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"})


@dataclass(frozen=True)
class HttpPolicy:
    """Which destinations the component may reach, and how long a request may take."""

    allow: tuple[str, ...] = field(default_factory=tuple)
    timeout: float = 10.0

    def __init__(self, allow: Iterable[str] = (), timeout: float = 10.0) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout: must be positive, got {timeout}")
        entries = strings("allow", allow)
        object.__setattr__(self, "allow", tuple(a.strip().lower() for a in entries))
        object.__setattr__(self, "timeout", float(timeout))

    def permits(self, url: str) -> bool:
        """True when `url` matches the allow-list."""
        try:
            parts = urlsplit(url)
            host = (parts.hostname or "").lower()
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            return False
        if parts.scheme not in ("http", "https") or not host:
            return False
        shown = f"[{host}]" if ":" in host else host
        return any(entry in ("*", shown, f"{shown}:{port}") for entry in self.allow)

    def send(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        body: str | None,
        timeout_ms: int | None,
    ) -> HttpResult:
        if method not in _METHODS:
            raise HttpFailure("invalid-request", f"method {method!r} is not one of {sorted(_METHODS)}")
        if not self.permits(url):
            raise HttpFailure("denied", f"{url} is not in the HTTP allow-list {list(self.allow)}")
        import base64
        import socket
        import urllib.error
        import urllib.request

        timeout = self.timeout if timeout_ms is None else min(self.timeout, timeout_ms / 1000)
        data = None if body is None else body.encode()
        try:
            request = urllib.request.Request(url, data=data, method=method, headers=dict(headers))
        except ValueError as e:
            raise HttpFailure("invalid-request", str(e)) from e
        try:
            with _open(request, timeout) as response:
                status, raw, reply_headers = response.status, response.read(), response.headers
        except urllib.error.HTTPError as e:  # 4xx/5xx/3xx are answers, not failures
            status, raw, reply_headers = e.code, e.read(), e.headers
        except TimeoutError as e:
            raise HttpFailure("timeout", f"{url}: no response within {timeout:g} s") from e
        except urllib.error.URLError as e:
            if isinstance(e.reason, TimeoutError | socket.timeout):
                raise HttpFailure("timeout", f"{url}: no response within {timeout:g} s") from e
            raise HttpFailure("failed", f"{url}: {e.reason}") from e
        except (OSError, ValueError) as e:
            raise HttpFailure("failed", f"{url}: {e}") from e
        pairs = [(k.lower(), v) for k, v in reply_headers.items()]
        try:
            return HttpResult(status, pairs, raw.decode("utf-8"), "utf8")
        except UnicodeDecodeError:
            return HttpResult(status, pairs, base64.b64encode(raw).decode(), "base64")
