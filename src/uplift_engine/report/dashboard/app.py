"""The dashboard: its own Starlette app, offline (the JavaScript it needs is shipped), behind keys.

Pages ``/models``, ``/targeting``, ``/budget``, ``/campaign``, ``/operations`` are one HTML shell
each that draws its charts (Plotly, vendored from npm's ``plotly.js-basic-dist-min``) from
``/api/<page>`` (:mod:`.data`) with the labels of ``/api/labels/<en|vi>`` (:mod:`.labels`).

Keys: the API's (``UPLIFT_API_KEYS``). A browser cannot send a header, so a key is exchanged
once at ``/login`` (compared in constant time) for a random session id in an HttpOnly,
SameSite=Strict cookie, kept in memory for :data:`SESSION_SECONDS`; every page and API call
needs it. Without keys the dashboard binds loopback only (the CLI refuses otherwise) and asks
for none.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from html import escape
from importlib.resources import files
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from uplift_engine.errors import UpliftError
from uplift_engine.report.dashboard.data import PAGES, Sources, page
from uplift_engine.report.dashboard.labels import LANGUAGES, labels

SESSION_COOKIE, LANGUAGE_COOKIE = "uplift_session", "uplift_lang"
SESSION_SECONDS = 8 * 3600
STATIC = files("uplift_engine.report.dashboard") / "static"


class Sessions:
    """Session ids handed out for a valid key, with their expiry."""

    def __init__(self, keys: tuple[str, ...]) -> None:
        self.keys = keys
        self.open: dict[str, float] = {}

    def check_key(self, given: str) -> bool:
        """Whether ``given`` is one of the keys (each compared in constant time)."""
        found = False
        for key in self.keys:
            found |= hmac.compare_digest(given.encode(), key.encode())
        return found

    def new(self) -> str:
        """A fresh session id."""
        now = time.time()
        self.open = {s: t for s, t in self.open.items() if t > now}
        session = secrets.token_urlsafe(32)
        self.open[session] = now + SESSION_SECONDS
        return session

    def valid(self, session: str | None) -> bool:
        """Whether the cookie's session is open."""
        if not self.keys:
            return True
        return session is not None and self.open.get(session, 0.0) > time.time()


def _json(data: Any, status: int = 200) -> Response:
    return Response(
        orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY), status, media_type="application/json"
    )


def _language(request: Request) -> str:
    lang = request.query_params.get("lang") or request.cookies.get(LANGUAGE_COOKIE) or "en"
    return lang if lang in LANGUAGES else "en"


def _shell(name: str, lang: str) -> str:
    text = labels(lang)
    here = ' class="here"'
    nav = "".join(
        f'<a href="/{p}" data-i18n="{p}"{here if p == name else ""}>{escape(text[p])}</a>'
        for p in PAGES
    )
    return f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(text["title"])} · {escape(text[name])}</title>
<link rel="stylesheet" href="/static/dashboard.css">
<script src="/static/plotly-basic.min.js"></script>
<script src="/static/dashboard.js" defer></script>
</head><body data-page="{name}" data-lang="{lang}">
<header><strong data-i18n="title">{escape(text["title"])}</strong><nav>{nav}</nav>
<button id="language" data-i18n="language">{escape(text["language"])}</button>
<a href="/logout" data-i18n="logout">{escape(text["logout"])}</a></header>
<main id="page"><h1 data-i18n="{name}">{escape(text[name])}</h1></main>
</body></html>"""


def _login(lang: str, wrong: bool = False) -> str:
    text = labels(lang)
    problem = f'<p class="problem" data-i18n="wrong_key">{escape(text["wrong_key"])}</p>'
    return f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{escape(text["login"])}</title>
<link rel="stylesheet" href="/static/dashboard.css"></head><body>
<main class="login"><h1>{escape(text["title"])}</h1>{problem if wrong else ""}
<form method="post" action="/login"><label>{escape(text["api_key"])}
<input type="password" name="key" autocomplete="current-password" autofocus></label>
<button type="submit">{escape(text["login"])}</button></form></main></body></html>"""


def create_dashboard(sources: Sources, keys: tuple[str, ...] = ()) -> Starlette:
    """The dashboard app over ``sources``, behind ``keys`` (none: open, loopback only)."""
    sessions = Sessions(keys)
    Handler = Callable[[Request], Awaitable[Response]]

    def guarded(handler: Handler, *, api: bool = False) -> Handler:
        async def endpoint(request: Request) -> Response:
            if not sessions.valid(request.cookies.get(SESSION_COOKIE)):
                if api:
                    return _json(
                        {
                            "error": {
                                "code": "unauthorized",
                                "message": "sign in at /login first",
                                "field": None,
                            }
                        },
                        401,
                    )
                return RedirectResponse("/login", 303)
            return await handler(request)

        return endpoint

    async def home(request: Request) -> Response:
        return RedirectResponse("/models", 303)

    async def show(request: Request) -> Response:
        name = request.path_params["page"]
        if name not in PAGES:
            return HTMLResponse("not found", 404)
        return HTMLResponse(_shell(name, _language(request)))

    async def api(request: Request) -> Response:
        try:
            body = await asyncio.to_thread(page, request.path_params["page"], sources)
        except UpliftError as exc:
            return _json(
                {"error": {"code": "bad_request", "message": str(exc), "field": exc.field}}, 404
            )
        return _json(body)

    async def texts(request: Request) -> Response:
        lang = request.path_params["lang"]
        if lang not in LANGUAGES:
            return _json(
                {
                    "error": {
                        "code": "not_found",
                        "message": f"no language {lang!r}",
                        "field": "lang",
                    }
                },
                404,
            )
        return _json(labels(lang))

    async def login(request: Request) -> Response:
        lang = _language(request)
        if request.method == "GET":
            return HTMLResponse(_login(lang))
        form = await request.form()
        key = form.get("key")
        if not isinstance(key, str) or not sessions.check_key(key):
            return HTMLResponse(_login(lang, wrong=True), 401)
        response = RedirectResponse("/models", 303)
        response.set_cookie(
            SESSION_COOKIE,
            sessions.new(),
            max_age=SESSION_SECONDS,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    async def logout(request: Request) -> Response:
        sessions.open.pop(request.cookies.get(SESSION_COOKIE) or "", None)
        response = RedirectResponse("/login" if keys else "/models", 303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    routes = [
        Route("/", guarded(home)),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout),
        Route("/api/labels/{lang}", guarded(texts, api=True)),
        Route("/api/{page}", guarded(api, api=True)),
        Mount("/static", StaticFiles(directory=str(STATIC)), name="static"),
        Route("/{page}", guarded(show)),
    ]
    return Starlette(routes=routes)
