"""Secrets appear nowhere: after a run of the farm (signed dispatcher, recorder and pusher
workers, reconciler, Flower) with tasks carrying every kind of secret, grep every farm
process's log, every value in Redis db0 (Celery messages, decoded), db1 and db2, Flower's
API and pages, Describe and list answers, and the callback bodies.
"""

from __future__ import annotations

import json
import time

import pytest
import requests

from tests.support import pusher_helpers as push
from tests.support import recorder_helpers as rec
from tests.support.api import HttpClient
from tests.support.redis_text import redis_text
from tests.support.tools import wait_until

pytestmark = pytest.mark.integration

KEYS = {"app1": "app-secret-Zq81"}
SECRETS = {
    "UserSig": "usersig-SECRET-Rk4v9",
    "SecretId": "AKIDsecretid-SECRET-7Hc2",
    "SecretKey": "secretkey-SECRET-p0Wx3",
    "userSig": "pushersig-SECRET-Ld5e1",
    "redisPassword": "redispass-SECRET-Qa6t",
    "EncryptKey": "5ec2e7ab5ec2e7ab5ec2e7ab5ec2e7ab",
    "app secret": KEYS["app1"],
}


def flower_text(flower_url: str, task_ids: list[str]) -> str:
    pages = ["/api/tasks", "/api/workers", "/tasks", "/workers", "/broker"]
    texts = []
    tasks = requests.get(flower_url + "/api/tasks", timeout=20).json()
    for uuid in tasks:
        pages.append(f"/task/{uuid}")
        pages.append(f"/api/task/info/{uuid}")
    for page in pages:
        texts.append(requests.get(flower_url + page, timeout=20).text)
    assert len(tasks) >= len(task_ids), "Flower saw the tasks"
    return "\n".join(texts)


def test_no_secret_in_logs_redis_flower_describe_or_callbacks(
    farm_process, capstan_env_vars, capstan_env, redis_server, rtmp_server, s3_server,
    lavfi_publisher, callback_receiver, static_server, tmp_path,
):  # fmt: skip
    capstan_env_vars.update(
        {
            "CAPSTAN_APP_KEYS": json.dumps(KEYS),
            "CAPSTAN_SEGMENT_SECONDS": "2",
            "CAPSTAN_REDIS_HOST_ALLOWLIST": json.dumps(["127.0.0.0/8"]),
        }
    )
    dispatcher = farm_process("dispatcher")
    farm_process("recorder", concurrency=2)
    farm_process("pusher", concurrency=2)
    farm_process("reconciler")
    flower = farm_process("flower", env={"FLOWER_UNAUTHENTICATED_API": "true"})
    api = HttpClient(dispatcher.url, app_key=("app1", KEYS["app1"]))
    bucket = s3_server.make_bucket("secrets-out")
    lavfi_publisher(rec.push_url(capstan_env, 43474, "sec"))
    rtmp_server.wait_published(f"{rec.SDK_APP_ID}_43474_sec")
    source = push.timecode_video(tmp_path / "media" / "short.mp4", 3)
    files = static_server(source.parent)

    # Given tasks carrying every kind of secret: a recording to a bucket with its own keys,
    recording = rec.seeds_request(
        "sec", UserSig=SECRETS["UserSig"], MaxDurationLimit=3, Callback=callback_receiver.url,
        CosConfig={"Region": "us-east-1", "Bucket": bucket, "Path": "rec",
                   "SecretId": SECRETS["SecretId"], "SecretKey": SECRETS["SecretKey"]},
    )  # fmt: skip
    # a push with a user signature and a Redis password (progress to Redis),
    pushing = push.pusher_request(
        files.url_for("short.mp4"), "sec", userSig=SECRETS["userSig"], redis=True,
        redisHost="127.0.0.1", redisPort=redis_server.port,
        redisPassword=SECRETS["redisPassword"],
    )  # fmt: skip
    # and a panorama recording with an encryption key (queued: no panorama worker here)
    panorama = {
        "RecordURL": "https://example.com/",
        "Video": {"Muxer": "hls", "EncryptKey": SECRETS["EncryptKey"],
                  "AuthUrl": "https://example.com/key"},
    }  # fmt: skip
    answers = [
        api.request("POST", "/v1/recorder", recording),
        api.request("POST", "/v1/pusher", pushing),
        api.request("POST", "/v1/panorama", {"Action": "Start", "Data": panorama}),
    ]
    assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
    ids = [a.json()["TaskID"] for a in answers]

    # When they run to their end (the panorama one is stopped while queued)
    def status(service: str, task_id: str) -> str:
        body = {"Action": "Describe", "Data": {"TaskID": task_id}}
        return api.request("POST", f"/v1/{service}", body).json()["Status"]

    api.request("POST", "/v1/panorama", {"Action": "Stop", "Data": {"TaskID": ids[2]}})
    wait_until(lambda: status("recorder", ids[0]) == "finished", 90, 0.2, "the recording finished")
    wait_until(lambda: status("pusher", ids[1]) == "finished", 90, 0.2, "the push finished")
    callback_receiver.wait_for(1)
    time.sleep(1)  # Flower's event stream catches up

    # Then no secret is anywhere
    seen = {
        "Describe": "\n".join(
            api.request("POST", f"/v1/{s}", {"Action": "Describe", "Data": {"TaskID": t}}).text
            for s, t in zip(("recorder", "pusher", "panorama"), ids, strict=True)
        )
        + api.request("GET", "/v1/tasks").text
        + "".join(api.request("GET", f"/v1/tasks/{t}").text for t in ids),
        "callbacks": "\n".join(c.raw.decode(errors="replace") for c in callback_receiver.received),
        "redis": redis_text(redis_server.client),
        "flower": flower_text(flower.url, ids[:2]),
    }
    for process in farm_process.started:
        seen[f"log of {process.role} ({process.log.name})"] = process.log.read_text(
            errors="replace"
        )
    assert ids[0] in seen["redis"] and ids[0] in seen["flower"]  # the places were looked at
    leaks = [
        f"{name} in {where}"
        for where, text in seen.items()
        for name, secret in SECRETS.items()
        if secret in text
    ]
    assert not leaks, leaks
