"""GET /files/...: the farm's output files.

``/files/<path>``: the local default output storage (settings.output_dir).
``send_from_directory`` refuses paths that leave the directory (safe_join) and, with
``conditional=True``, answers Range requests, so an MP4 plays while it downloads.

``/files/s3/<region>/<bucket>/<key>?s=``: a signed link to S3 output (delivery.filelinks),
answered with a redirect to a presigned URL made now; an HLS playlist is served here.
"""

from __future__ import annotations

from dataclasses import replace

from flask import Blueprint, Response, redirect, request, send_from_directory
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response as BaseResponse

from config.settings import Settings
from dispatcher.farm import farm
from workers.common.delivery import filelinks
from workers.common.delivery.storage import S3Storage, farm_s3
from workers.common.domain.errors import ServiceUnavailable

bp = Blueprint("files", __name__)


@bp.get("/files/<path:path>")
def output_file(path: str) -> Response:
    root = farm().settings.output_dir.resolve()
    return send_from_directory(root, path, conditional=True, max_age=3600)


@bp.get(f"{filelinks.PREFIX}/<region>/<bucket>/<path:key>")
def s3_file(region: str, bucket: str, key: str) -> BaseResponse:
    if not filelinks.valid(region, bucket, key, request.args.get("s", "")):
        raise NotFound()  # as for a file that does not exist: the link says nothing
    settings = farm().settings
    if key.endswith(".m3u8"):
        text = _read_text(S3Storage(farm_s3(settings, bucket, region)), key)
        body = filelinks.playlist(text, region, bucket, key)
        response: BaseResponse = Response(body, mimetype="application/vnd.apple.mpegurl")
    else:
        response = redirect(_presigned(settings, region, bucket, key), 302)
    response.headers["Cache-Control"] = "no-store"  # the presigned URL expires
    return response


def _presigned(settings: Settings, region: str, bucket: str, key: str) -> str:
    """A GET URL at the endpoint clients reach, valid s3_link_ttl_s (no request to S3)."""
    where = farm_s3(settings, bucket, region)
    public = replace(where, endpoint_url=settings.s3_public_endpoint_url or where.endpoint_url)
    url: str = S3Storage(public).client.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=settings.s3_link_ttl_s
    )
    return url


def _read_text(storage: S3Storage, key: str) -> str:
    try:
        found = storage.client.get_object(Bucket=storage.where.bucket, Key=key)
    except Exception as exc:
        status = getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status == 404:
            raise NotFound() from None
        raise ServiceUnavailable(f"bucket {storage.where.bucket} unreachable: {exc}") from None
    text: str = found["Body"].read().decode()
    return text
