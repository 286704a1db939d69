"""GET /ui/: the task page (static files in dispatcher/ui, no build step, nothing external).

The page is unsigned, like /files: it holds no data. Its script calls the API
(/v1/tasks) and, when the farm has app keys, signs those calls with a key and secret the
user types in (kept in the tab's sessionStorage; WebCrypto needs a secure context,
i.e. https or 127.0.0.1/localhost).
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, abort, redirect, request, send_from_directory

from dispatcher.farm import farm

bp = Blueprint("ui", __name__)

UI_DIR = Path(__file__).with_name("ui")
FILES = frozenset({"index.html", "app.js", "style.css"})
# Scripts and styles from the farm only; media from the output storage (S3 may be elsewhere).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; media-src * blob: data:; frame-ancestors 'none'; base-uri 'none'"
)


@bp.get("/ui", defaults={"name": ""})
@bp.get("/ui/", defaults={"name": "index.html"})
@bp.get("/ui/<name>")
def page(name: str) -> Response:
    if not name:  # its own rule, so that the redirect is unsigned too
        return redirect(request.script_root + "/ui/", code=308)  # type: ignore[return-value]
    if name not in FILES:
        abort(404)
    if name == "index.html":
        html = (UI_DIR / name).read_text(encoding="utf-8")
        html = html.replace("__FLOWER_PORT__", str(farm().settings.flower_port))
        response = Response(html, mimetype="text/html")
    else:
        response = send_from_directory(UI_DIR, name, max_age=0)
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Cache-Control"] = "no-cache"
    return response
