"""Where segments wait during recording: a farm setting every worker shares, with the
request's StorageType keeping the seeds' meaning (cos: the bucket; cfs: the farm's shared
file system), and never one machine's disk on a farm whose machines share none."""

from pathlib import Path

import pytest

from config.settings import Settings
from workers.common.delivery.storage import LocalStorage, S3Storage, intermediate


def farm(**fields) -> Settings:
    return Settings(data_dir=Path("/farm"), **fields)


@pytest.mark.parametrize("storage_type", ["cfs", "cos"])
def test_a_farm_with_s3_output_keeps_every_segment_in_its_bucket(storage_type):
    chosen = intermediate(farm(storage="s3", s3_bucket="out"), storage_type)
    assert isinstance(chosen, S3Storage) and chosen.where.bucket == "out"


def test_the_raw_bucket_wins_for_segments():
    settings = farm(storage="s3", s3_bucket="out", s3_raw_bucket="raw")
    chosen = intermediate(settings, "cfs")
    assert isinstance(chosen, S3Storage) and chosen.where.bucket == "raw"


def test_the_local_default_keeps_cfs_segments_in_the_data_dir():
    chosen = intermediate(farm(), "cfs")
    assert isinstance(chosen, LocalStorage) and chosen.root == Path("/farm/segments")


def test_cos_means_the_bucket_even_on_a_local_farm():
    assert isinstance(intermediate(farm(s3_bucket="b"), "cos"), S3Storage)


def test_a_shared_volume_can_hold_the_segments_of_an_s3_farm():
    settings = farm(storage="s3", intermediate_storage="dir", intermediate_dir=Path("/rwx"))
    chosen = intermediate(settings, "cfs")
    assert isinstance(chosen, LocalStorage) and chosen.root == Path("/rwx")


def test_s3_segments_can_be_asked_for_with_local_output():
    assert isinstance(intermediate(farm(intermediate_storage="s3"), "cfs"), S3Storage)
