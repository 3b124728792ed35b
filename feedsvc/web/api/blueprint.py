"""The /api/v1 Blueprint: every route of the JSON API, with its hooks and error handlers."""

from __future__ import annotations

from flask import Blueprint
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from feedsvc.web.api import articles, bearer, errors, openapi, sections
from feedsvc.web.api.contract import PREFIX
from feedsvc.web.api.encoding import json_response, site

# Plain int (not int(min=, max=)): Werkzeug answers a converter's refusal with its own 404
# before our fallback could; the routes refuse out-of-range ids (limits.valid_id) as 404s.
_ID = "int"


def openapi_document() -> Response:
    """GET /openapi.json: the description. It needs no token, and caches may keep it."""
    response = json_response(openapi.document(site()))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


bp = Blueprint("api", __name__, url_prefix=PREFIX)
bp.register_error_handler(errors.ApiError, errors.api_error)
bp.register_error_handler(HTTPException, errors.http_error)
bp.register_error_handler(Exception, errors.unexpected)
bp.before_request(bearer.require_token)
bp.after_request(bearer.no_store)

for rule, method, view in (
    ("/sections", "GET", sections.list_sections),
    ("/sections", "POST", sections.create_section),
    (f"/sections/<{_ID}:section_id>", "GET", sections.get_section),
    (f"/sections/<{_ID}:section_id>", "PATCH", sections.patch_section),
    (f"/sections/<{_ID}:section_id>", "DELETE", sections.delete_section),
    ("/articles", "GET", articles.list_articles),
    ("/articles", "POST", articles.create_article),
    (f"/articles/<{_ID}:article_id>", "GET", articles.get_article),
    (f"/articles/<{_ID}:article_id>", "PATCH", articles.patch_article),
    (f"/articles/<{_ID}:article_id>", "DELETE", articles.delete_article),
    ("/openapi.json", "GET", openapi_document),
):
    bp.add_url_rule(rule, view_func=view, methods=[method])

# Anything else under /api/v1 answers 404 or 405 in this API's format.
for rule in ("/", "/<path:rest>"):
    bp.add_url_rule(
        rule, endpoint=errors.FALLBACK, view_func=errors.fallback, methods=errors.ALL_METHODS
    )
