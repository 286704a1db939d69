"""Storage: one small interface, two implementations (a local directory, any S3 endpoint).

Used for intermediate segments (the farm's intermediate storage, StorageType cfs/cos) and
for output files.
"""

from __future__ import annotations

import mimetypes
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from config.settings import Settings
from workers.common.delivery import filelinks
from workers.common.domain.errors import Code, FarmFault, TaskFailure, UserFault


class Storage(Protocol):
    def put(self, local: Path, key: str) -> None: ...
    def get(self, key: str, local: Path) -> None: ...
    def url(self, key: str) -> str: ...
    def keys(self, prefix: str) -> list[str]: ...
    def delete(self, key: str) -> None: ...


class LocalStorage:
    """A directory; the dispatcher serves it under /files/ for the default output."""

    def __init__(self, root: Path, base_url: str = "") -> None:
        self.root = root
        self.base_url = base_url.rstrip("/")

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"storage key escapes the root: {key}")
        return path

    def put(self, local: Path, key: str) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        try:
            os.link(local, tmp)  # same filesystem: free
        except OSError:
            shutil.copyfile(local, tmp)
        os.replace(tmp, target)

    def get(self, key: str, local: Path) -> None:
        local.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self._path(key), local)

    def url(self, key: str) -> str:
        return f"{self.base_url}/files/{quote(key)}"

    def keys(self, prefix: str) -> list[str]:
        base = self._path(prefix) if prefix else self.root
        if not base.exists():
            return []
        return sorted(str(p.relative_to(self.root)) for p in base.rglob("*") if p.is_file())

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


@dataclass(frozen=True)
class S3Location:
    bucket: str
    region: str
    endpoint_url: str = ""
    access_key: str = ""
    secret_key: str = ""
    domain: str = ""  # playback domain for FileURL (Output.Cos.Domain)
    link_base: str = (
        ""  # else the dispatcher's signed /files/s3/ link (workers.common.delivery.filelinks)
    )


class S3Storage:
    """Any S3-compatible endpoint (AWS, COS through its S3 endpoint, MinIO, moto)."""

    def __init__(self, where: S3Location) -> None:
        import boto3
        from botocore.config import Config

        self.where = where
        endpoint = where.endpoint_url.replace("{region}", where.region) or None
        self.endpoint = endpoint
        self.client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=where.region,
            aws_access_key_id=where.access_key or None,
            aws_secret_access_key=where.secret_key or None,
            config=Config(retries={"max_attempts": 5, "mode": "standard"}),
        )

    def put(self, local: Path, key: str) -> None:
        content_type = mimetypes.guess_type(local.name)[0] or "application/octet-stream"
        try:
            self.client.upload_file(
                str(local), self.where.bucket, key, ExtraArgs={"ContentType": content_type}
            )
        except Exception as exc:
            raise _storage_fault("write to", self.where.bucket, exc) from exc

    def get(self, key: str, local: Path) -> None:
        local.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.client.download_file(self.where.bucket, key, str(local))
        except Exception as exc:
            raise _storage_fault("read from", self.where.bucket, exc) from exc

    def url(self, key: str) -> str:
        if self.where.domain:
            domain = self.where.domain
            scheme = "" if "://" in domain else "https://"
            return f"{scheme}{domain.rstrip('/')}/{quote(key)}"
        if self.where.link_base:
            return filelinks.link(self.where.link_base, self.where.region, self.where.bucket, key)
        if self.endpoint:
            return f"{self.endpoint.rstrip('/')}/{self.where.bucket}/{quote(key)}"
        return f"https://{self.where.bucket}.s3.{self.where.region}.amazonaws.com/{quote(key)}"

    def keys(self, prefix: str) -> list[str]:
        keys: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.where.bucket, Prefix=prefix):
            keys += [item["Key"] for item in page.get("Contents", [])]
        return keys

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.where.bucket, Key=key)


def _storage_fault(verb: str, bucket: str, exc: Exception) -> TaskFailure:
    """A 4xx (no such bucket, access denied) is the request's fault and final; anything
    else (connection refused, 5xx, timeouts) is worth retrying."""
    message = f"could not {verb} bucket {bucket}: {exc}"
    status = getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if 400 <= int(status or 0) < 500:
        return UserFault(message, code=Code.UPLOAD_FAILED)
    return FarmFault(message, code=Code.UPLOAD_FAILED)


def default_output(settings: Settings) -> Storage:
    if settings.storage == "s3":
        return S3Storage(farm_s3(settings, settings.s3_bucket))
    return LocalStorage(settings.output_dir, settings.public_url)


def farm_s3(settings: Settings, bucket: str, region: str = "", domain: str = "") -> S3Location:
    return S3Location(
        bucket=bucket,
        region=region or settings.s3_region,
        endpoint_url=settings.s3_endpoint_url,
        access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key,
        domain=domain,
        link_base=settings.public_url if settings.s3_file_urls == "signed" else "",
    )


def intermediate(settings: Settings, storage_type: str) -> Storage:
    """Where closed segments wait during recording, seen alike by every worker of the farm.

    StorageType keeps the seeds' meaning: cos = the farm's bucket, cfs = the farm's shared
    file system. A farm whose intermediate storage is S3 (its machines share no disk) has
    no shared file system: cfs segments go to the bucket too, never to one machine's disk.
    """
    if storage_type == "cos" or settings.intermediate_in_s3:
        bucket = settings.s3_raw_bucket or settings.s3_bucket
        return S3Storage(farm_s3(settings, bucket))
    return LocalStorage(settings.segments_dir)
