"""feedsvc's application factory: settings → database → blueprints → CLI; starts no scheduler."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, g, jsonify, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from feedsvc import localtime as wall_clock
from feedsvc import settings, urls


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app; nothing runs at import time and no background work starts here."""
    app = Flask(__name__, instance_path=str(settings.PROJECT_ROOT / "instance"))
    instance = Path(
        test_config["INSTANCE_PATH"]
        if test_config and "INSTANCE_PATH" in test_config
        else app.instance_path
    )
    loaded = settings.load(instance, test_config)
    app.config.update(loaded)
    # What a render process needs to build the same app (publishing/renderpool.py, spawn
    # start method): this factory and these settings, without importing the package root.
    app.extensions["feedsvc.settings"] = {**loaded, "INSTANCE_PATH": str(instance)}
    app.extensions["feedsvc.factory"] = create_app
    https = app.config["SITE_URL"].startswith("https://")
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=https,
        # Over https the __Host- prefix makes browsers refuse the cookie unless it is Secure,
        # host-only and for every path: no sibling subdomain can plant or shadow it (RFC 6265bis
        # §4.1.3.2).
        SESSION_COOKIE_NAME="__Host-session" if https else "session",
        # The cookie outlives no session: web/logins.py also ends it at SESSION_MAX_HOURS after
        # the login, and after SESSION_IDLE_MINUTES without a request.
        PERMANENT_SESSION_LIFETIME=timedelta(hours=int(app.config["SESSION_MAX_HOURS"])),
        # Set-Cookie only when the session changed (web/logins.py rewrites last-seen at most
        # once a minute), not on every response.
        SESSION_REFRESH_EACH_REQUEST=False,
        # Bodies up to limits.BODY_MAX characters may be 800 KB of UTF-8; leave room.
        MAX_CONTENT_LENGTH=4 * 1024 * 1024,
        MAX_FORM_MEMORY_SIZE=4 * 1024 * 1024,
        # Admin forms' tokens live as long as the session (its CSRF secret is new at every
        # login), so a long article is not lost; the login form has its own hour
        # (limits.LOGIN_FORM_SECONDS).
        WTF_CSRF_TIME_LIMIT=None,
    )

    from feedsvc import cli, logs
    from feedsvc.storage import db
    from feedsvc.web import (
        documents,
        edges,
        headers,
        metrics,
        outage,
        polling,
        readercount,
        throttle,
    )
    from feedsvc.web.fastpath import FastPath

    logs.init_app(app)
    db.init_app(app)
    # First of the request hooks: while the database is down nothing after it waits on it.
    database_state = outage.init_app(app)
    throttle.init_app(app)
    documents.init_app(app, database_state)
    counters = metrics.init_app(app)
    headers.init_app(app)
    polls = polling.init_app(app, refused=counters.poll_refused, tracked=counters.poll_tracked)
    readers = readercount.init_app(app)
    csrf = CSRFProtect(app)
    edges.init_app(app)
    _register_templates(app)
    _register_errors(app)

    from feedsvc.web import (
        accounts,
        admin,
        analyticsview,
        apitokens,
        auth,
        browser,
        health,
        importpage,
        public,
        sectiondelete,
        topicpages,
    )
    from feedsvc.web.api.blueprint import bp as api_bp

    app.register_blueprint(public.bp)
    app.register_blueprint(browser.bp)
    app.register_blueprint(topicpages.bp)  # tags' and authors' pages and feeds
    app.register_blueprint(health.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(sectiondelete.bp)
    app.register_blueprint(accounts.bp)
    app.register_blueprint(apitokens.bp)
    app.register_blueprint(importpage.bp)  # /admin/import
    app.register_blueprint(analyticsview.bp)
    app.register_blueprint(api_bp)
    # Bearer tokens only, never the session cookie: nothing for a cross-site form to ride on.
    csrf.exempt(api_bp)
    # The login form checks its own token, with its own time limit (forms.LoginForm): once
    # CSRFProtect has passed a token (it knows no per-form limit), forms skip their check.
    csrf.exempt(auth.login)
    cli.init_app(app)
    # Feed polls are answered ahead of Flask, from the same stored documents.
    fast = FastPath(app.wsgi_app, documents.cache(app), counters.observe, polls, readers)
    app.extensions["feedsvc.fastpath"] = fast  # web/requestlog.py hooks the access log in
    app.wsgi_app = fast  # type: ignore[method-assign]
    proxies = int(app.config["TRUSTED_PROXIES"])
    if proxies:
        # Outermost, so the fast path too sees the client's address and scheme. Only the last
        # `proxies` hops of X-Forwarded-For are believed: anything before them is whatever the
        # client sent (werkzeug ProxyFix; RFC 7239 §8.1 on forged forwarded values). The Host
        # header is nginx's own (`proxy_set_header Host`), so X-Forwarded-Host is never read.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies
        )
    return app


def _register_templates(app: Flask) -> None:
    site = app.config["SITE_URL"]
    zone = ZoneInfo(app.config["TIMEZONE"])

    @app.template_filter("localtime")
    def localtime(moment: datetime) -> str:
        local = wall_clock.to_local(moment, zone)
        return f"{local.year:04d}{local:-%m-%d %H:%M %Z}"  # %Y gives "1" for the year 1

    @app.context_processor
    def helpers() -> dict[str, Any]:
        from feedsvc.web.forms import LogoutForm

        return {
            "abs_url": lambda path: urls.absolute(site, path),
            "section_feed": lambda slug, fmt: urls.absolute(site, urls.section_doc_path(slug, fmt)),
            "article_abs_url": lambda article_id: urls.article_url(site, article_id),
            "logout_form": LogoutForm() if g.get("user") else None,
        }


def _register_errors(app: Flask) -> None:
    from feedsvc.web.edges import can_build_urls

    def wants_json() -> bool:
        return (
            request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"
        )

    def error_page(code: int, name: str, description: str) -> str | Response:
        if not can_build_urls():  # the page's links need url_for
            return Response(f"{code} {name}\n\n{description}\n", mimetype="text/plain")
        return render_template("error.html", code=code, name=name, description=description)

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> tuple[str | Response, int]:
        return error_page(
            400, "The form expired", "Reload the page and submit the form again; nothing was saved."
        ), 400

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        code = exc.code or 500
        if code == 304 or exc.response is not None:
            return exc.get_response()
        response: Response
        if wants_json():
            response = jsonify(error=exc.name, message=exc.description, status=code)
        else:
            page = error_page(code, exc.name, exc.description or "")
            response = page if isinstance(page, Response) else Response(page, mimetype="text/html")
        # Keep what the exception says about itself, e.g. 405's Allow (RFC 9110 §15.5.6).
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        response.status_code = code
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> tuple[str | Response, int]:
        from feedsvc.web.outage import answer

        # The database unreachable or too slow: 503 with Retry-After, not a 500.
        replacement = answer(exc)
        if replacement is not None:
            return http_error(replacement), 503
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        if wants_json():
            return jsonify(error="Internal Server Error", status=500), 500
        return error_page(
            500,
            "Something went wrong",
            "The error was logged. Nothing you submitted was half-saved.",
        ), 500
