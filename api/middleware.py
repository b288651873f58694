"""One ASGI middleware for what every response needs, whatever route answers.

It runs around every route, including those added later, and:

- gives each request an id (``X-Request-ID``, taken from the request when well-formed) and
  logs one line per request with it; refused requests (4xx, 5xx) are logged as such, and no
  header value, cookie or secret-looking query value is ever written to the log;
- refuses, as problem+json in the request's language, a ``Host`` outside the trusted hosts
  (400), a URL over the configured length (414), a body that is neither JSON nor a form
  (415) and a body over the configured size (413), whether announced by ``Content-Length``
  or counted as it arrives;
- answers ``HEAD`` wherever ``GET`` is answered, and ``304 Not Modified`` when
  ``If-None-Match`` names the response's ETag;
- adds the security headers (Content-Security-Policy with ``frame-ancestors 'none'``,
  ``X-Content-Type-Options``, ``Referrer-Policy``, ``X-Frame-Options``) and a cache policy:
  ``no-store`` for any request carrying credentials and for errors, the public policy for
  successful anonymous reads unless the route chose its own;
- turns an unexpected exception into a generic 500 problem without a traceback.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.config import LOGGING_CONFIG

from .errors import Lang, problem, request_language
from .settings import HttpSettings

__all__ = ["SERVER_OPTIONS", "HardeningMiddleware", "redact_query"]

logger = logging.getLogger("api.access")

#: Options of every uvicorn that serves the app (``implanter serve`` and the tests): no
#: ``server`` header, no uvicorn access log (this middleware logs each request, redacted), and
#: room in h11's buffer for a request line over the URL limit, so that it gets a 414 from the
#: app rather than a reset connection.
SERVER_OPTIONS: dict[str, Any] = {
    "server_header": False,
    "access_log": False,
    "h11_max_incomplete_event_size": 128 * 1024,
    # uvicorn's logging, plus the app's loggers (``api.*``: this access log, 500 tracebacks).
    "log_config": {
        **LOGGING_CONFIG,
        "loggers": {
            **LOGGING_CONFIG["loggers"],
            "api": {"handlers": ["default"], "level": "INFO", "propagate": False},
        },
    },
}

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_SECRET_KEY = re.compile(r"key|token|pass|secret|session|auth|csrf|signature", re.IGNORECASE)
_DOCS = ("/docs", "/redoc")
_BODY_METHODS = {"POST", "PUT", "PATCH"}
#: Routes that take a file upload: their body may reach ``max_upload_bytes``.
UPLOAD_PATHS = frozenset({"/imports"})
_VARY = ("Accept-Language", "Authorization", "Cookie")


def redact_query(query_string: str) -> str:
    """Hide the values of query parameters whose name looks like a secret.

    Examples
    --------
    >>> redact_query("limit=5&api_key=abc&password=x")
    'limit=5&api_key=%2A%2A%2A&password=%2A%2A%2A'
    """
    pairs = parse_qsl(query_string, keep_blank_values=True)
    return urlencode([(k, "***" if _SECRET_KEY.search(k) else v) for k, v in pairs])


def _accepted_media_type(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return (
        media == "application/json"
        or (media.startswith("application/") and media.endswith("+json"))
        or media in ("application/x-www-form-urlencoded", "multipart/form-data")
    )


def _etag_matches(if_none_match: str, etag: str) -> bool:
    """Weak comparison (RFC 9110 13.1.2): ``W/"x"`` matches ``"x"``; ``*`` matches any."""
    if if_none_match.strip() == "*":
        return True
    wanted = etag.strip().removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in if_none_match.split(","))


def _host_allowed(host: str, trusted: list[str]) -> bool:
    if "*" in trusted:
        return True
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = name.lower()
    for pattern in trusted:
        pattern = pattern.lower()
        if name == pattern or (pattern.startswith("*.") and name.endswith(pattern[1:])):
            return True
    return False


class _BodyTooLarge(HTTPException):
    """Raised from ``receive`` when the body goes over the limit; answered with a 413.

    An ``HTTPException``, so that FastAPI's body parsing lets it through to the handlers.
    """


class HardeningMiddleware:
    """Limits, request ids, conditional and ``HEAD`` requests, security headers, logging.

    Parameters
    ----------
    app
        The ASGI app to wrap.
    settings
        The limits, hosts and header policies.
    """

    def __init__(
        self, app: ASGIApp, settings: HttpSettings, large_bodies: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.settings = settings
        #: Paths whose body may be larger than ``max_body_bytes`` (uploads), and their limit;
        #: a path with ``{name}`` parts (``/premises/{premises_id}/photos``) is a template.
        self.large_bodies = {p: n for p, n in (large_bodies or {}).items() if "{" not in p}
        self._large_templates = [
            (re.compile(re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(p))), n)
            for p, n in (large_bodies or {}).items()
            if "{" in p
        ]
        # Header blocks built once: this runs on every response.
        always = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY")]
        if settings.hsts_max_age:
            hsts = f"max-age={settings.hsts_max_age}; includeSubDomains".encode()
            always.append((b"strict-transport-security", hsts))
        self._always = always
        self._replaced = {name for name, _ in always} | {b"server", b"x-request-id"}

        def defaults(csp: str) -> list[tuple[bytes, bytes]]:
            return [
                (b"content-security-policy", csp.encode()),
                (b"referrer-policy", settings.referrer_policy.encode()),
                (b"cross-origin-opener-policy", b"same-origin"),
            ]

        self._defaults = defaults(settings.content_security_policy)
        self._docs_defaults = defaults(settings.docs_content_security_policy)
        self._public_cache = settings.public_cache_control.encode()

    def _refusal(
        self, scope: Scope, headers: Headers, lang: Callable[[], Lang]
    ) -> tuple[int, str, str] | None:
        """``(status, field, detail)`` of a request refused before routing, or None."""
        s = self.settings
        host = headers.get("host", "")
        if not _host_allowed(host, s.trusted_hosts):
            fr = lang() == "fr"
            return (
                400,
                "Host",
                f"Host : « {host[:100]} » n'est pas un nom de ce service ; utilisez l'un de : "
                f"{', '.join(s.trusted_hosts)}."
                if fr
                else f"Host: '{host[:100]}' is not a name of this service; use one of: "
                f"{', '.join(s.trusted_hosts)}.",
            )
        length = len(scope.get("raw_path") or scope["path"].encode()) + len(scope["query_string"])
        if length > s.max_url_length:
            fr = lang() == "fr"
            return (
                414,
                "url",
                f"url : l'adresse fait {length} caractères, la limite est {s.max_url_length} ; "
                "retirez des filtres ou raccourcissez leurs valeurs."
                if fr
                else f"url: the URL is {length} characters long, the limit is "
                f"{s.max_url_length}; drop filters or shorten their values.",
            )
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._body_limit(scope):
            return (413, self._body_field(scope), self._too_large(lang(), scope))
        if scope["method"] in _BODY_METHODS:
            has_body = headers.get("content-length", "0") not in ("", "0") or (
                "transfer-encoding" in headers
            )
            content_type = headers.get("content-type", "")
            if has_body and not _accepted_media_type(content_type):
                fr = lang() == "fr"
                shown = content_type[:100] or ("(aucun)" if fr else "(none)")
                return (
                    415,
                    "Content-Type",
                    f"Content-Type : « {shown} » n'est pas accepté ; envoyez du JSON "
                    "(application/json)."
                    if fr
                    else f"Content-Type: '{shown}' is not accepted; send JSON (application/json).",
                )
        return None

    def _body_limit(self, scope: Scope) -> int:
        """The largest body of this request: an upload's, or any other request's."""
        path = scope["path"]
        if path in UPLOAD_PATHS and scope["method"] == "POST":
            return self.settings.max_upload_bytes
        limit = self.large_bodies.get(path)
        if limit is None and scope["method"] == "POST":
            limit = next((n for t, n in self._large_templates if t.fullmatch(path)), None)
        return self.settings.max_body_bytes if limit is None else limit

    @staticmethod
    def _body_field(scope: Scope) -> str:
        """What a 413 names: the uploaded ``file``, or the ``body``."""
        return "file" if scope["path"] in UPLOAD_PATHS else "body"

    def _too_large(self, lang: Lang, scope: Scope) -> str:
        limit = self._body_limit(scope)
        if self._body_field(scope) == "file":
            mib = f"{limit / 2**20:.3g}"
            if lang == "en":
                return (
                    f"file: the upload exceeds {limit} bytes ({mib} MiB, "
                    "IMPLANTER_HTTP__MAX_UPLOAD_BYTES); split the file into smaller files."
                )
            return (
                f"file : le fichier envoyé dépasse {limit} octets ({mib} Mio, "
                "IMPLANTER_HTTP__MAX_UPLOAD_BYTES) ; découpez-le en plusieurs fichiers."
            )
        if lang == "en":
            return f"body: the request body exceeds {limit} bytes; send less data."
        return f"body : le corps de la requête dépasse {limit} octets ; envoyez moins de données."

    def _headers(
        self, raw: list[tuple[bytes, bytes]], path: str, private: bool, request_id: str
    ) -> list[tuple[bytes, bytes]]:
        """The response's headers plus the security headers, request id and cache policy."""
        out = [(k, v) for k, v in raw if k.lower() not in self._replaced]
        names = {k.lower() for k, _ in out}
        out += self._always
        out.append((b"x-request-id", request_id.encode()))
        defaults = self._docs_defaults if path.startswith(_DOCS) else self._defaults
        out += [(k, v) for k, v in defaults if k not in names]
        if private:
            out = [(k, v) for k, v in out if k.lower() != b"cache-control"]
            out.append((b"cache-control", b"no-store"))
        elif b"cache-control" not in names:
            out.append((b"cache-control", self._public_cache))
        if b"vary" in names:
            vary = MutableHeaders(raw=out)
            for name in _VARY:
                vary.add_vary_header(name)
            return vary.raw
        out.append((b"vary", ", ".join(_VARY).encode()))
        return out

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = Headers(scope=scope)
        query = scope["query_string"].decode("latin-1")
        given_id = headers.get("x-request-id", "")
        request_id = given_id if _REQUEST_ID.fullmatch(given_id) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        method = scope["method"]
        path = scope["path"]
        language: list[Lang] = []

        def lang() -> Lang:  # parsed only when a message is written
            if not language:
                language.append(request_language(headers, query))
            return language[0]

        credentials = "authorization" in headers or "cookie" in headers
        if_none_match = headers.get("if-none-match") if method in ("GET", "HEAD") else None
        state: dict[str, Any] = {"status": 0, "drop_body": method == "HEAD"}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status = message["status"]
                raw = list(message.get("headers", []))
                if if_none_match and 200 <= status < 300:
                    etag = next((v for k, v in raw if k.lower() == b"etag"), None)
                    if etag is not None and _etag_matches(if_none_match, etag.decode("latin-1")):
                        status = 304
                        state["drop_body"] = True
                        dropped = (b"content-length", b"content-type")
                        raw = [(k, v) for k, v in raw if k.lower() not in dropped]
                state["status"] = status
                private = credentials or status >= 400 or method not in ("GET", "HEAD")
                headers_out = self._headers(raw, path, private, request_id)
                message = {**message, "status": status, "headers": headers_out}
            elif message["type"] == "http.response.body" and state["drop_body"]:
                message = {**message, "body": b""}
            await send(message)

        try:
            refusal = self._refusal(scope, headers, lang)
            if refusal is not None:
                status, field, detail = refusal
                response = problem(
                    status,
                    detail,
                    lang=lang(),
                    errors=[{"field": field, "reason": detail}],
                    instance=path,
                    request_id=request_id,
                )
                await response(scope, receive, send_wrapper)
                return
            if method == "HEAD":
                scope = {**scope, "method": "GET"}
            received = 0
            limit = self._body_limit(scope)

            async def receive_with_limit() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > limit:
                        raise _BodyTooLarge(413, self._too_large(lang(), scope))
                return message

            await self.app(scope, receive_with_limit, send_wrapper)
        except _BodyTooLarge:
            if state["status"]:
                raise
            detail = self._too_large(lang(), scope)
            response = problem(
                413,
                detail,
                lang=lang(),
                errors=[{"field": self._body_field(scope), "reason": detail}],
                instance=path,
                request_id=request_id,
            )
            await response(scope, receive, send_wrapper)
        except Exception:
            logger.exception("unhandled error on %s %s [%s]", method, path, request_id)
            if state["status"]:
                raise
            detail = (
                "An internal error occurred; it has been logged. Try again later or report it "
                "with the request id."
                if lang() == "en"
                else "Une erreur interne est survenue ; elle a été journalisée. Réessayez plus "
                "tard ou signalez-la avec l'identifiant de requête."
            )
            response = problem(500, detail, lang=lang(), instance=path, request_id=request_id)
            await response(scope, receive, send_wrapper)
        finally:
            status = state["status"]
            shown = f"{path}?{redact_query(query)}" if query else path
            if len(shown) > 300:  # a 100 kB URL must not flood the log
                shown = f"{shown[:300]}… ({len(shown)} characters)"
            elapsed = (time.perf_counter() - started) * 1000
            if status >= 400 or status == 0:
                logger.warning(
                    "refused %s %s -> %s [%s] %.1f ms", method, shown, status, request_id, elapsed
                )
            else:
                logger.info("%s %s -> %s [%s] %.1f ms", method, shown, status, request_id, elapsed)
