"""Storage and the callback receiver down for a while, on a real farm.

Given a recording that ends (MaxDurationLimit), when the output storage refuses writes and
the callback receiver fails, then the worker retries both with backoff (for a window of
minutes: CAPSTAN_UPLOAD_RETRY_WINDOW_S, CAPSTAN_CALLBACK_RETRY_WINDOW_S), keeps every
segment in intermediate storage meanwhile, and succeeds once they are back.
"""

from __future__ import annotations

import time

import pytest

from tests.support import recorder_helpers as rec
from tests.support.api import HttpClient, local_file
from tests.support.chaos import FAST, examine, wait_for
from workers.common.domain.store import default_store

pytestmark = pytest.mark.integration

RETRY = {
    "CAPSTAN_UPLOAD_RETRY_WINDOW_S": "300",
    "CAPSTAN_CALLBACK_RETRY_WINDOW_S": "300",
    "CAPSTAN_CALLBACK_FIRST_BACKOFF_S": "0.5",
    "CAPSTAN_CALLBACK_TIMEOUT_S": "1",
}


def test_storage_and_callback_outages_are_ridden_out(
    capstan_env_vars, capstan_env, farm_process, rtmp_server, lavfi_publisher,
    callback_receiver, chaos_figures,
):  # fmt: skip
    capstan_env_vars.update({**FAST, **RETRY})
    api = rec.RecorderApi(HttpClient(farm_process("dispatcher").url))
    farm_process("recorder", concurrency=1)
    store = default_store()
    lavfi_publisher(rec.push_url(capstan_env, 43474, "outage"))
    rtmp_server.wait_published(f"{rec.SDK_APP_ID}_43474_outage")

    # Given the output storage refusing every write, and a callback receiver failing
    output = capstan_env.output_dir
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text("not a directory: every write fails")
    callback_receiver.fail_first(4, status=503)

    # When a recording of ~4 s ends by itself
    body = rec.seeds_request("outage", MaxDurationLimit=4, Callback=callback_receiver.url)
    task_id = api.start(body)
    api.wait_status(task_id, "upload", timeout=60)
    time.sleep(4)

    # Then the upload is still being retried and the recording waits, whole, in
    # intermediate storage (nothing deleted before it is stored)
    assert api.describe(task_id)["Status"] == "upload"
    waiting = list((capstan_env.segments_dir / "raw" / task_id).glob("*.ts"))
    assert waiting and len(waiting) == len(store.segments(task_id))
    output.unlink()  # storage is back

    finished = api.finished(task_id, timeout=120)
    wait_for(lambda: any(c.status == 200 for c in callback_receiver.received), 30, "a 200")
    result = finished["Result"]
    out = examine(result, lambda url: local_file(capstan_env, url))
    chaos_figures(
        "recorder: storage and callback receiver down",
        media_seconds_lost=4 - out.duration_s,
        one_playable_file=out.one_playable_file,
        callback_attempts=len(callback_receiver.received),
    )
    assert "ErrorCode" not in result, result
    assert out.one_playable_file and out.duration_s == pytest.approx(4, abs=1.0)
    statuses = [c.status for c in callback_receiver.received]
    assert statuses == [503, 503, 503, 503, 200]
    assert callback_receiver.received[-1].json["UserId"] == "outage"
    # Stored: the intermediate segments are gone only now
    assert not list((capstan_env.segments_dir / "raw" / task_id).glob("*.ts"))
