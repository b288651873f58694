"""Map domain errors to RFC 9457 ``application/problem+json`` responses in one place."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from geodata.schemas import error_details
from geodata.storage.errors import NotFoundError, StaleVersionError, StorageError

__all__ = ["PROBLEM_JSON", "add_exception_handlers", "problem"]

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

_TITLES = {
    400: "Requête invalide / Bad request",
    404: "Introuvable / Not found",
    409: "Conflit / Conflict",
    412: "Version périmée / Stale version",
    422: "Données invalides / Invalid data",
    428: "Version requise / Precondition required",
    500: "Erreur interne / Internal error",
}


def problem(
    status: int,
    detail: str,
    *,
    errors: list[dict[str, str]] | None = None,
    instance: str | None = None,
    **extra: Any,
) -> JSONResponse:
    """Build a problem+json response.

    Parameters
    ----------
    status
        HTTP status code.
    detail
        A sentence a user can act on.
    errors
        Per-field problems, each ``{"field": ..., "reason": ...}``.
    instance
        The request path.
    """
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": _TITLES.get(status, "Erreur / Error"),
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def _request_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
        msg = str(err.get("msg", "")).removeprefix("Value error, ")
        out.append({"field": ".".join(loc) or "(request)", "reason": msg})
    return out


def add_exception_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every error into problem+json."""

    @app.exception_handler(RequestValidationError)
    async def _request_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _request_errors(exc)
        detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
        return problem(422, detail, errors=errors, instance=request.url.path)

    @app.exception_handler(ValidationError)
    async def _validation(request: Request, exc: ValidationError) -> JSONResponse:
        errors = error_details(exc)
        detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
        return problem(422, detail, errors=errors, instance=request.url.path)

    @app.exception_handler(NotFoundError)
    async def _not_found(request: Request, exc: NotFoundError) -> JSONResponse:
        return problem(404, str(exc), instance=request.url.path)

    @app.exception_handler(StaleVersionError)
    async def _stale(request: Request, exc: StaleVersionError) -> JSONResponse:
        return problem(412, str(exc), instance=request.url.path)

    @app.exception_handler(StorageError)
    async def _storage(request: Request, exc: StorageError) -> JSONResponse:
        return problem(409, str(exc), instance=request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, str(exc.detail), instance=request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(
            500,
            "Une erreur interne est survenue ; elle a été journalisée. "
            "An internal error occurred; it has been logged.",
            instance=request.url.path,
        )
