"""GET /files/<path>: the local default output storage (settings.output_dir).

``send_from_directory`` refuses paths that leave the directory (safe_join) and, with
``conditional=True``, answers Range requests, so an MP4 plays while it downloads."""

from __future__ import annotations

from flask import Blueprint, Response, send_from_directory

from dispatcher.farm import farm

bp = Blueprint("files", __name__)


@bp.get("/files/<path:path>")
def output_file(path: str) -> Response:
    root = farm().settings.output_dir.resolve()
    return send_from_directory(root, path, conditional=True, max_age=3600)
