"""Map every error to an RFC 9457 ``application/problem+json`` response, in one place.

Each problem names the field and the reason (``errors``: ``[{"field", "reason"}]``) and carries
the request id; the titles and the messages written here are in the request's language
(French by default, English through ``?lang=en`` or ``Accept-Language``). No traceback ever
reaches the client: unexpected errors are logged and answered with a generic 500.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from geodata.schemas import error_details
from geodata.storage.errors import (
    DuplicateRefError,
    NotFoundError,
    StaleVersionError,
    StorageError,
)

__all__ = [
    "PROBLEM_JSON",
    "PROBLEM_SCHEMA",
    "Lang",
    "ProblemError",
    "Text",
    "add_exception_handlers",
    "document_problems",
    "preferred_language",
    "problem",
    "request_language",
]

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

Lang = Literal["fr", "en"]
#: The languages of the answers, French first.
LANGS: tuple[Lang, ...] = ("fr", "en")

_TITLES: dict[int, tuple[str, str]] = {
    400: ("Requête invalide", "Bad request"),
    401: ("Authentification requise", "Authentication required"),
    403: ("Accès refusé", "Forbidden"),
    404: ("Introuvable", "Not found"),
    405: ("Méthode non acceptée", "Method not allowed"),
    406: ("Format non disponible", "Not acceptable"),
    409: ("Conflit", "Conflict"),
    412: ("Version périmée", "Stale version"),
    413: ("Corps de requête trop volumineux", "Content too large"),
    414: ("Adresse trop longue", "URI too long"),
    415: ("Type de contenu non accepté", "Unsupported media type"),
    422: ("Données invalides", "Invalid data"),
    428: ("Version requise", "Precondition required"),
    429: ("Trop de requêtes", "Too many requests"),
    500: ("Erreur interne", "Internal error"),
}

#: ``field: reason; field: reason`` as written by the domain's ``ValueError`` messages.
_FIELD_REASON = re.compile(r"^(?P<field>[A-Za-z_][\w.\-]*) ?: (?P<reason>.+)$", re.DOTALL)

#: Where a message moves on to the next field (a ';' followed by ``field:``).
_NEXT_FIELD = re.compile(r" ?; (?=[A-Za-z_][\w.\-]* ?: )")

#: The path of a record (``/premises/12``) at the start of a path (``/premises/12/status``).
_RECORD_PATH = re.compile(r"^/[^/]+/\d+")

#: The JSON schema of every problem response, documented in the OpenAPI document.
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "An RFC 9457 problem: what went wrong, and per field why.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "request_id": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "reason"],
                "properties": {"field": {"type": "string"}, "reason": {"type": "string"}},
            },
        },
    },
}


@dataclass(frozen=True)
class Text:
    """A user message in French and in English; called with a language, it gives that one.

    Examples
    --------
    >>> Text("Accès refusé", "Forbidden")("en")
    'Forbidden'
    """

    fr: str
    en: str

    def __call__(self, lang: Lang) -> str:
        """The message in ``lang``."""
        return self.en if lang == "en" else self.fr

    def __str__(self) -> str:
        return self.en


class ProblemError(StarletteHTTPException):
    """An HTTP error whose message is given in both languages; answered in the request's.

    Parameters
    ----------
    status_code
        The HTTP status.
    text
        The message, French and English; each starts with ``field : `` / ``field: `` when it
        is about one field, so that the problem's ``errors`` names it.
    headers
        Extra response headers.
    """

    def __init__(
        self, status_code: int, text: Text, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(status_code, text.en, dict(headers) if headers else None)
        self.text = text


def preferred_language(lang: str | None, accept_language: str | None) -> Lang:
    """The language of an answer: ``lang`` (from ``?lang=``) when it is fr or en, else the
    best of ``Accept-Language`` (highest q, then first given; q=0 refuses), else French.

    Examples
    --------
    >>> preferred_language(None, "en-GB,en;q=0.9,fr;q=0.8")
    'en'
    >>> preferred_language(None, "de, en;q=0.5, fr;q=0.7")
    'fr'
    >>> preferred_language("en", "fr")
    'en'
    >>> preferred_language(None, "en;q=0, de")
    'fr'
    """
    if lang == "en" or lang == "fr":
        return "en" if lang == "en" else "fr"
    best: tuple[float, int, Lang] | None = None
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, rest = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary != "fr" and primary != "en":
            continue
        weight = 1.0
        for param in rest.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if weight > 0 and (best is None or (weight, -position) > (best[0], best[1])):
            best = (weight, -position, "en" if primary == "en" else "fr")
    return best[2] if best is not None else "fr"


def request_language(headers: Mapping[str, str], query_string: str = "") -> Lang:
    """Choose the language of a user message: ``?lang=`` first, then ``Accept-Language``
    (see :func:`preferred_language`).

    Examples
    --------
    >>> request_language({}, "lang=en")
    'en'
    >>> request_language({"accept-language": "en-GB,en;q=0.9,fr;q=0.8"})
    'en'
    >>> request_language({"accept-language": "de, fr;q=0.5, en;q=0.4"})
    'fr'
    >>> request_language({"accept-language": "english, en;q=0"})  # neither is English
    'fr'
    """
    lang = next((v for k, v in parse_qsl(query_string) if k == "lang" and v in LANGS), None)
    return preferred_language(lang, headers.get("accept-language"))


def _lang(request: Request) -> Lang:
    return request_language(request.headers, request.url.query)


def problem(
    status: int,
    detail: str,
    *,
    lang: Lang = "fr",
    errors: list[dict[str, str]] | None = None,
    instance: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """Build a problem+json response.

    Parameters
    ----------
    status
        HTTP status code.
    detail
        A sentence a user can act on.
    lang
        The language of the title.
    errors
        Per-field problems, each ``{"field": ..., "reason": ...}``.
    instance
        The request path.
    headers
        Extra response headers (``Allow`` on a 405).
    """
    fr, en = _TITLES.get(status, ("Erreur", "Error"))
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": en if lang == "en" else fr,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _request_problem(request: Request, status: int, detail: str, **kw: Any) -> JSONResponse:
    request_id = getattr(request.state, "request_id", None)
    extra = {"request_id": request_id} if request_id else {}
    return problem(status, detail, lang=_lang(request), instance=request.url.path, **kw, **extra)


def _split_fields(detail: str) -> list[dict[str, str]]:
    """Split ``"field: reason; field: reason"`` into ``[{"field", "reason"}, ...]``.

    Examples
    --------
    >>> _split_fields("commune: unknown; try 94081; bbox : bad")
    [{'field': 'commune', 'reason': 'unknown; try 94081'}, {'field': 'bbox', 'reason': 'bad'}]
    >>> _split_fields("no field here")
    []
    """
    out = []
    for part in _NEXT_FIELD.split(detail):
        match = _FIELD_REASON.match(part)
        if match is None:
            return []
        out.append({"field": match["field"], "reason": match["reason"]})
    return out


def _request_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
        msg = str(err.get("msg", "")).removeprefix("Value error, ")
        out.append({"field": ".".join(loc) or "(request)", "reason": msg})
    return out


def _t(lang: Lang, fr: str, en: str) -> str:
    return en if lang == "en" else fr


def _http_detail(request: Request, exc: StarletteHTTPException) -> str:
    lang = _lang(request)
    status = exc.status_code
    if isinstance(exc, ProblemError):
        return exc.text(lang)
    if status == 404 and exc.detail == "Not Found":
        return _t(
            lang,
            f"Aucune ressource à l'adresse {request.url.path} ; la liste des routes est dans "
            "/docs.",
            f"Nothing at {request.url.path}; the routes are listed in /docs.",
        )
    if status == 405:
        allow = (exc.headers or {}).get("Allow", "")
        return _t(
            lang,
            f"La méthode {request.method} n'est pas acceptée sur {request.url.path} ; "
            f"méthodes acceptées : {allow}.",
            f"{request.method} is not allowed on {request.url.path}; use one of: {allow}.",
        )
    return str(exc.detail)


def _stale_text(exc: StaleVersionError, path: str) -> Text:
    """412: what happened, and how to retry (re-read, then send the new ETag)."""
    record = _RECORD_PATH.match(path)
    path = record.group(0) if record else path
    what_fr = "l'annonce" if exc.entity == "premises" else "la fiche"
    return Text(
        f"If-Match : {what_fr} {exc.entity_id} est à la version {exc.current}, pas à la "
        f"version {exc.expected} : elle a changé depuis votre lecture. Relisez-la "
        f"(GET {path}) ou relisez la liste, réappliquez votre modification et renvoyez-la "
        f'avec son nouvel ETag dans If-Match (If-Match: "{exc.current}").',
        f"If-Match: {exc.entity} {exc.entity_id} is at version {exc.current}, not version "
        f"{exc.expected}: it changed since you read it. Re-read it (GET {path}) or re-read "
        "the listing, re-apply your change and send it again with the new ETag in If-Match "
        f'(If-Match: "{exc.current}").',
    )


def _conflict_text(exc: StorageError) -> Text:
    """409: the stored data refuse the change; French first, with the store's own message."""
    if isinstance(exc, DuplicateRefError):
        shown = ", ".join(repr(r) for r in exc.refs[:10])
        return Text(
            f"external_ref : {shown} déjà utilisée(s) par une autre annonce ; donnez à chaque "
            "annonce sa propre référence, ou mettez à jour l'annonce existante.",
            str(exc),
        )
    fields = _split_fields(str(exc))
    if fields:
        field = fields[0]["field"]
        return Text(
            f"{field} : la modification contredit les données enregistrées ({exc}).",
            str(exc),
        )
    return Text(
        f"La modification contredit les données enregistrées : {exc}.",
        str(exc),
    )


def add_exception_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every error into problem+json."""

    @app.exception_handler(RequestValidationError)
    async def _request_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        lang = _lang(request)
        invalid_json = [e for e in exc.errors() if e.get("type") == "json_invalid"]
        if invalid_json:
            ctx = invalid_json[0].get("ctx") or {}
            position = invalid_json[0].get("loc", ("body", "?"))[-1]
            reason = str(ctx.get("error", "invalid JSON"))
            detail = _t(
                lang,
                f"body : JSON mal formé à la position {position} ({reason}) ; "
                "envoyez un document JSON valide.",
                f"body: malformed JSON at position {position} ({reason}); "
                "send a valid JSON document.",
            )
            errors = [{"field": "body", "reason": f"{reason} (position {position})"}]
            return _request_problem(request, 400, detail, errors=errors)
        errors = _request_errors(exc)
        listed = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
        detail = _t(
            lang,
            f"Paramètres invalides — {listed}. Corrigez-les et renvoyez la requête.",
            f"Invalid parameters — {listed}. Fix them and send the request again.",
        )
        return _request_problem(request, 422, detail, errors=errors)

    @app.exception_handler(ValidationError)
    async def _validation(request: Request, exc: ValidationError) -> JSONResponse:
        errors = error_details(exc)
        detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
        return _request_problem(request, 422, detail, errors=errors)

    @app.exception_handler(NotFoundError)
    async def _not_found(request: Request, exc: NotFoundError) -> JSONResponse:
        detail = _t(
            _lang(request),
            f"{exc.entity} {exc.entity_id} n'existe pas (jamais créé, ou supprimé) ; "
            f"listez les {exc.entity} pour trouver le bon identifiant.",
            str(exc),
        )
        errors = [{"field": "id", "reason": str(exc)}]
        return _request_problem(request, 404, detail, errors=errors)

    @app.exception_handler(StaleVersionError)
    async def _stale(request: Request, exc: StaleVersionError) -> JSONResponse:
        logger.info("refused: stale version %s on %s", exc.expected, request.url.path)
        detail = _stale_text(exc, request.url.path)(_lang(request))
        errors = _split_fields(detail) or [{"field": "If-Match", "reason": detail}]
        return _request_problem(request, 412, detail, errors=errors)

    @app.exception_handler(StorageError)
    async def _storage(request: Request, exc: StorageError) -> JSONResponse:
        detail = _conflict_text(exc)(_lang(request))
        return _request_problem(request, 409, detail, errors=_split_fields(str(exc)) or None)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405 and "Allow" in headers:
            methods = _allowed_methods(request) or [m.strip() for m in headers["Allow"].split(",")]
            if "GET" in methods and "HEAD" not in methods:
                methods.append("HEAD")
            headers["Allow"] = ", ".join(methods)
            exc = StarletteHTTPException(405, exc.detail, headers)
        detail = _http_detail(request, exc)
        errors = _split_fields(detail) or None
        return _request_problem(request, exc.status_code, detail, errors=errors, headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        detail = _t(
            _lang(request),
            "Une erreur interne est survenue ; elle a été journalisée. Réessayez plus tard "
            "ou signalez-la avec l'identifiant de requête.",
            "An internal error occurred; it has been logged. Try again later or report it "
            "with the request id.",
        )
        return _request_problem(request, 500, detail)


_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_DESCRIPTIONS = {
    "400": "Bad request: a parameter, the Host header or the JSON body is invalid.",
    "404": "Not found.",
    "413": "The request body is over the documented limit.",
    "414": "The URL is over the documented limit.",
    "415": "The body is not JSON.",
    "422": "A parameter or a field of the body is invalid.",
    "500": "Internal error (logged; never a traceback).",
    "401": "No credentials, or invalid ones.",
    "403": "The credentials do not allow this.",
    "409": "The change conflicts with the stored data.",
    "412": "If-Match names a version that is no longer the stored one.",
    "428": "If-Match is required.",
}


def _leaf_routes(routes: Any) -> Any:
    """The routes of an app, through included routers (FastAPI wraps each ``include_router``,
    whose routes carry their router's prefix; ours are included without a further one)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _leaf_routes(inner.routes)
        else:
            yield route


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route accepts on this path.

    Starlette names only the methods of the first route whose path matches, while a path such
    as ``/premises`` has one route per method (GET and POST).
    """
    methods: list[str] = []
    for route in _leaf_routes(request.app.router.routes):
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            methods += [m for m in getattr(route, "methods", None) or () if m not in methods]
    return methods


def document_problems(app: FastAPI) -> None:
    """Document the problem responses of every operation in the app's OpenAPI document.

    Every operation may answer 400, 404, 414, 422 and 500; those taking a body 413 and 415,
    those with a security requirement 401 and 403, writes 409, and those reading
    ``If-Match`` 412 and 428; all as ``application/problem+json``. The routes added later
    get the same for free.
    """
    original: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = original()
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas["Problem"] = PROBLEM_SCHEMA
        for path_item in schema.get("paths", {}).values():
            for method, op in path_item.items():
                if method not in ("get", "post", "put", "patch", "delete"):
                    continue
                responses = op.setdefault("responses", {})
                codes = ["400", "404", "414", "422", "500"]
                if "requestBody" in op:
                    codes += ["413", "415"]
                if op.get("security"):
                    codes += ["401", "403"]
                if method in ("post", "put", "patch", "delete"):
                    codes.append("409")
                headers = {
                    p.get("name", "").lower()
                    for p in op.get("parameters", [])
                    if p.get("in") == "header"
                }
                if "if-match" in headers:
                    codes += ["412", "428"]
                for code in codes:
                    existing = responses.get(code, {})
                    # A page answers its errors as a page (text/html), a client as a problem.
                    responses[code] = {
                        "description": existing.get("description") or _DESCRIPTIONS[code],
                        "content": {
                            **{
                                media: spec
                                for media, spec in existing.get("content", {}).items()
                                if media == "text/html"
                            },
                            PROBLEM_JSON: {"schema": _PROBLEM_REF},
                        },
                    }
                if method == "get":
                    responses.setdefault(
                        "304", {"description": "Not modified: If-None-Match matched the ETag."}
                    )
        for unused in ("HTTPValidationError", "ValidationError"):
            if f'"#/components/schemas/{unused}"' not in json.dumps(schema):
                schemas.pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
