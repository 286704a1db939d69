"""FileURL of S3 output: the Domain when given, else the dispatcher's signed link (private
buckets), or the plain bucket URL when the farm says so (CAPSTAN_S3_FILE_URLS=bucket)."""

import pytest
from cryptography.fernet import Fernet

from config.settings import Settings, reset_settings
from workers.common.delivery.storage import S3Storage, farm_s3
from workers.common.domain import crypto

KEY = "task-1/user 1.mp4"


@pytest.fixture(autouse=True)
def farm_key(monkeypatch):
    """Links are signed with the farm's CAPSTAN_SECRET_KEY."""
    monkeypatch.setenv("CAPSTAN_SECRET_KEY", Fernet.generate_key().decode())
    reset_settings()
    crypto.forget_key()
    yield
    reset_settings()
    crypto.forget_key()


def url_for(settings: Settings, domain: str = "") -> str:
    return S3Storage(farm_s3(settings, "recs", "eu-west-1", domain)).url(KEY)


def test_by_default_the_url_is_a_signed_dispatcher_link():
    settings = Settings(public_url="https://capstan.example.com")
    url = url_for(settings)
    assert url.startswith(
        "https://capstan.example.com/files/s3/eu-west-1/recs/task-1/user%201.mp4?s="
    )


def test_a_domain_is_used_as_it_is():
    settings = Settings(public_url="https://capstan.example.com")
    assert url_for(settings, "cdn.example.com") == "https://cdn.example.com/task-1/user%201.mp4"


def test_plain_bucket_urls_when_the_farm_asks_for_them():
    settings = Settings(s3_file_urls="bucket", s3_endpoint_url="https://s3.example.com")
    assert url_for(settings) == "https://s3.example.com/recs/task-1/user%201.mp4"
