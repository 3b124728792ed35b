"""Error answers: ApiError, the handlers, typed service errors → statuses, the 404/405 fallback."""

from __future__ import annotations

from typing import Any, NoReturn

from flask import current_app, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from feedsvc.errors import Conflict, NotFound, SlugInUse, StaleVersion, ValidationError
from feedsvc.web import outage
from feedsvc.web.api.contract import ERROR_CODES
from feedsvc.web.api.encoding import api_url, json_response

# Services raise typed errors (feedsvc.errors); the status follows the type, never the wording.
# The first match wins, so a subclass comes before its base.
STATUS_BY_TYPE: tuple[tuple[type[Exception], int], ...] = (
    (NotFound, 404),
    (StaleVersion, 412),
    (Conflict, 409),
    (ValidationError, 422),
)

SLUG_IN_USE = "That slug is in use by another section; choose another."


class ApiError(Exception):
    """An error answer: status, a machine-readable code, a sentence, per-field sentences."""

    def __init__(
        self,
        status: int,
        message: str,
        fields: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        code: str | None = None,
        current: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or ERROR_CODES.get(status, "error")
        self.message = message
        self.fields = fields or {}
        self.headers = headers or {}
        self.current = current  # 412: the resource as stored now


def status_of(exc: Exception) -> int:
    """The HTTP status of a service's typed error (500: not a service error at all)."""
    for kind, status in STATUS_BY_TYPE:
        if isinstance(exc, kind):
            return status
    return 500


def refused(exc: ValidationError, fields: dict[str, str] | None = None) -> ApiError:
    """A service's refusal as an answer: 409 for a clash with what is stored, else 422.

    `fields` are the per-field sentences under the API's field names (default: the error's).
    """
    fields = exc.errors if fields is None else fields
    if status_of(exc) == 409:
        if isinstance(exc, SlugInUse):
            return ApiError(409, SLUG_IN_USE, fields)
        return ApiError(
            409, "The request clashes with what is stored: see “fields”. Nothing was saved.", fields
        )
    noun = "field" if len(fields) == 1 else "fields"
    return ApiError(
        422,
        f"The request could not be saved: fix the {noun} named in “fields”. Nothing was saved.",
        fields,
    )


def not_found(kind: str, ident: int) -> ApiError:
    """404 for a resource id that names nothing stored."""
    return ApiError(404, f"There is no {kind} with the id {ident}.")


def _error_response(exc: ApiError) -> Response:
    payload: dict[str, Any] = {"error": exc.code, "message": exc.message, "fields": exc.fields}
    if exc.current is not None:
        payload["current"] = exc.current
    return json_response(payload, exc.status, exc.headers)


def api_error(exc: ApiError) -> Response:
    """Handler: an ApiError raised anywhere in the API."""
    return _error_response(exc)


def _http_message(exc: HTTPException) -> str:
    if exc.code == 413:
        limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
        return (
            f"The request body is larger than the {limit // (1024 * 1024)} MB this API accepts; "
            "nothing was saved."
        )
    return exc.description or exc.name


def http_error(exc: HTTPException) -> Response:
    """Handler: Werkzeug's HTTP errors (413 and the like) in this API's format."""
    code = exc.code or 500
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    return _error_response(ApiError(code, _http_message(exc), headers=headers))


def unexpected(exc: Exception) -> Response:
    """Handler: anything else is a 500, logged; the database unreachable or too slow, 503."""
    replacement = outage.answer(exc)
    if replacement is not None:
        return http_error(replacement)
    current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
    return _error_response(ApiError(500, "Something went wrong on our side. The error was logged."))


# --- fallbacks: 404 and 405 in this API's format ---------------------------------------------

FALLBACK = "fallback"  # the endpoint of the catch-all rules
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
_PROBED = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _allowed_methods() -> set[str]:
    """Methods other rules accept at this path (Werkzeug would say 405 without our fallback)."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    fallback = f"{request.blueprint}.{FALLBACK}"
    allowed: set[str] = set()
    for method in _PROBED:
        try:
            rule, _args = adapter.match(request.path, method=method, return_rule=True)
        except HTTPException:
            continue
        if rule.endpoint != fallback:
            allowed |= rule.methods or set()
    return allowed


def fallback(rest: str = "") -> NoReturn:
    """View: 405 when another method would do at this path, else 404."""
    allowed = _allowed_methods()
    if allowed:
        raise ApiError(
            405,
            f"{request.method} is not allowed here; use {', '.join(sorted(allowed))}.",
            headers={"Allow": ", ".join(sorted(allowed))},
        )
    raise ApiError(
        404,
        f"There is nothing at this address. The API is described at {api_url('openapi.json')}.",
    )
