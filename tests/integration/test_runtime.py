"""The shared worker runtime, end to end with a real ffmpeg test-pattern session.

Given a task record as the dispatcher writes it, when a worker runs it and the client
pauses, resumes and stops it through the task's control list, then ONE playable file of
the time spent recording is stored (locally or on a real S3 endpoint) and the callback
receiver gets the Describe body, signed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from config.settings import get_settings
from tests.support import media
from tests.support.api import local_file
from tests.support.pattern_session import PatternSession, PatternSpec
from tests.support.procs import children
from tests.support.redis_text import redis_text
from tests.support.tools import REPO
from workers.common.delivery.callback import signature
from workers.common.domain import crypto
from workers.common.domain.specs.base import split_secrets
from workers.common.domain.states import Action, Status
from workers.common.domain.store import TaskStore, default_store, sub_key, task_key
from workers.common.runtime.loop import run_task
from workers.common.runtime.reconciler import reconcile

pytestmark = pytest.mark.integration

SERVICE = "recorder"  # any service whose running state is "recording"


@pytest.fixture
def runtime_env(monkeypatch, capstan_env_vars):
    extra = {
        "CAPSTAN_SEGMENT_SECONDS": "2",
        "CAPSTAN_CALLBACK_RETRY_WINDOW_S": "6",
        "CAPSTAN_CALLBACK_FIRST_BACKOFF_S": "0.5",
        "CAPSTAN_CALLBACK_TIMEOUT_S": "1",
        "CAPSTAN_CALLBACK_SECRET": "cb-secret",
        "CAPSTAN_LEASE_TTL_S": "3",
        "CAPSTAN_LEASE_RENEW_S": "1",
    }
    capstan_env_vars.update(extra)
    for key, value in extra.items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def store(runtime_env, capstan_env) -> TaskStore:
    return default_store()


def create(store: TaskStore, **fields) -> str:
    public, secrets = split_secrets(PatternSpec(**fields))
    return store.create(SERVICE, public, crypto.seal(secrets), request_id="req-test")


class Worker:
    """run_task in a thread, as a Celery thread-pool worker runs it."""

    def __init__(self, store: TaskStore, task_id: str) -> None:
        self.outcome: list[str] = []
        self.thread = threading.Thread(
            target=lambda: self.outcome.append(run_task(task_id, PatternSession, store))
        )
        self.thread.start()

    def join(self, timeout: float = 90) -> str:
        self.thread.join(timeout)
        assert self.outcome, "the task did not end"
        return self.outcome[0]


def wait_status(store: TaskStore, task_id: str, status: Status, timeout: float = 30) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if store.get(task_id).status is status:
            return time.monotonic()
        time.sleep(0.1)
    raise AssertionError(f"task never reached {status}: {store.get(task_id).status}")


def record_with_a_pause(store: TaskStore, task_id: str) -> float:
    """Record ~4 s, pause ~4 s, record ~4 s, stop. Returns the seconds spent recording."""
    started = wait_status(store, task_id, Status.RECORDING)
    time.sleep(4)
    store.control(task_id, SERVICE, Action.PAUSE, Status.RECORDING)
    paused = time.monotonic()
    time.sleep(4)
    store.control(task_id, SERVICE, Action.RESUME, Status.RECORDING)
    resumed = time.monotonic()
    time.sleep(4)
    store.control(task_id, SERVICE, Action.STOP, Status.RECORDING)
    return (paused - started) + (time.monotonic() - resumed)


def test_pause_resume_gives_one_file_of_the_time_recorded_and_a_signed_callback(
    store, capstan_env, callback_receiver
):
    task_id = create(store, CallbackURL=callback_receiver.url)
    worker = Worker(store, task_id)

    recorded = record_with_a_pause(store, task_id)

    assert worker.join() == "finished"
    record = store.get(task_id)
    assert record.status is Status.FINISHED
    assert {"create_time", "start_time", "cancel_time", "stop_time", "finish_time"} <= set(
        record.times
    )
    videos = record.result["Videos"]
    assert len(videos) == 1 and "ErrorCode" not in record.result
    path = local_file(capstan_env, videos[0]["FileURL"])
    assert path.exists() and path.stat().st_size == videos[0]["FileSize"]
    info = media.probe(path)
    assert sorted(s["codec_type"] for s in info["streams"]) == ["audio", "video"]
    assert info["duration"] == pytest.approx(recorded, abs=1.0)
    assert videos[0]["FileDuration"] == pytest.approx(info["duration"], abs=0.1)
    assert media.tone_level(path, 1000) > -30  # the 1 kHz tone is in it
    assert media.moov_before_mdat(path)

    (call,) = callback_receiver.wait_for(1)
    assert call.json["TaskID"] == task_id
    assert call.json["Status"] == "finished"
    assert call.json["Result"]["Videos"][0]["FileURL"] == videos[0]["FileURL"]
    stamp = call.headers["X-Capstan-Signature"].split(",")[0][2:]
    assert call.headers["X-Capstan-Signature"] == signature("cb-secret", call.raw, int(stamp))


def test_the_file_goes_to_a_real_s3_endpoint(store, s3_server):
    bucket = s3_server.make_bucket("runtime-out")
    task_id = create(store, Bucket=bucket)
    worker = Worker(store, task_id)
    wait_status(store, task_id, Status.RECORDING)
    time.sleep(4)
    store.control(task_id, SERVICE, Action.STOP, Status.RECORDING)

    assert worker.join() == "finished"
    (video,) = store.get(task_id).result["Videos"]
    key = f"pattern/{task_id}/{video['Filename']}"
    head = s3_server.client().head_object(Bucket=bucket, Key=key)
    assert head["ContentLength"] == video["FileSize"]
    # A link that works without bucket keys (tests/integration/test_file_links.py).
    assert video["FileURL"].startswith(
        f"{get_settings().public_url}/files/s3/{s3_server.region}/{bucket}/"
    )
    # The intermediate segments are gone once the output is stored.
    assert not list((Path(os.environ["CAPSTAN_DATA_DIR"]) / "segments" / "raw").rglob("*.ts"))


def test_a_callback_receiver_that_never_answers_ends_in_callback_failed_and_the_file_stays(
    store, capstan_env, callback_receiver
):
    callback_receiver.never_answer(30)
    task_id = create(store, CallbackURL=callback_receiver.url, MaxDurationLimit=3)
    assert Worker(store, task_id).join() == "finished with CallbackFailed"
    record = store.get(task_id)
    assert record.result["ErrorCode"] == "CallbackFailed"
    assert record.result["ErrorMessage"].startswith(
        "Callback failed even all tries. last error message:timeout of 1000ms exceeded"
    )
    assert len(record.callbacks) >= 2
    assert local_file(capstan_env, record.result["Videos"][0]["FileURL"]).exists()


def test_callbacks_are_retried_until_the_receiver_answers(store, callback_receiver):
    callback_receiver.fail_first(2)
    task_id = create(store, CallbackURL=callback_receiver.url, MaxDurationLimit=3)
    assert Worker(store, task_id).join() == "finished"
    attempts = store.get(task_id).callbacks
    assert [a["Ok"] for a in attempts] == [False, False, True]
    assert attempts[0]["Error"] == "HTTP 500"


def test_max_duration_limit_ends_the_recording(store, capstan_env):
    task_id = create(store, MaxDurationLimit=3)
    assert Worker(store, task_id).join() == "finished"
    (video,) = store.get(task_id).result["Videos"]
    assert media.probe(local_file(capstan_env, video["FileURL"]))["duration"] == pytest.approx(
        3, abs=1.0
    )


def test_stop_before_a_worker_took_it_cancels_the_task(store):
    task_id = create(store)
    store.control(task_id, SERVICE, Action.STOP, Status.RECORDING)
    assert store.get(task_id).status is Status.CANCELED
    assert run_task(task_id, PatternSession, store) == "already canceled"


def test_secrets_are_sealed_in_the_record_and_open_for_the_session(store, redis_server):
    task_id = create(store, Password="hunter2-very-secret")
    assert "hunter2-very-secret" not in redis_text(redis_server.client)
    spec = PatternSpec.model_validate(
        {**store.get(task_id).spec, **crypto.unseal(store.get(task_id).secrets)}
    )
    assert spec.Password.get_secret_value() == "hunter2-very-secret"


def test_secrets_sealed_with_another_machines_key_end_the_task_with_a_clear_error(store):
    # Given a task whose secrets another machine sealed with its own key
    public, secrets = split_secrets(PatternSpec(Password="sealed-elsewhere"))
    elsewhere = Fernet(Fernet.generate_key()).encrypt(json.dumps(secrets).encode()).decode()
    task_id = store.create(SERVICE, public, elsewhere, request_id="req-test")

    # When a worker here runs it, then it ends at once, finished, naming the setting
    assert run_task(task_id, PatternSession, store) == "finished with SecretsUnreadable"
    record = store.get(task_id)
    assert record.status is Status.FINISHED
    assert record.result["ErrorCode"] == "SecretsUnreadable"
    assert "CAPSTAN_SECRET_KEY" in record.result["ErrorMessage"]
    # and nothing puts it back on a queue
    assert reconcile(store) == []


def test_a_killed_worker_is_replaced_and_the_output_is_still_one_file(
    store, capstan_env, capstan_env_vars
):
    """SIGKILL the worker process (and its ffmpeg) mid-recording: the lease lapses, the
    reconciler gives the task the next epoch, a new worker carries on, the old epoch can
    no longer write, and the result is one file with both parts in it."""
    task_id = create(store)
    code = (
        "import sys; from workers.common.runtime.loop import run_task;"
        "from tests.support.pattern_session import PatternSession;"
        "run_task(sys.argv[1], PatternSession)"
    )
    doomed = subprocess.Popen(
        [sys.executable, "-c", code, task_id], cwd=REPO, env={**os.environ, **capstan_env_vars}
    )
    wait_status(store, task_id, Status.RECORDING)
    time.sleep(6)
    before = store.get(task_id).progress
    for pid in [*children(doomed.pid), doomed.pid]:
        os.kill(pid, signal.SIGKILL)
    doomed.wait()

    deadline = time.monotonic() + 15
    while not reconcile(store):  # the lease (3 s) must lapse first
        assert time.monotonic() < deadline, "the reconciler never re-enqueued the task"
        time.sleep(0.5)
    assert store.get(task_id).epoch == 2
    assert not store.add_segment(task_id, 1, {"name": "late", "key": "x", "duration": 1, "size": 1})

    worker = Worker(store, task_id)
    time.sleep(4)
    store.control(task_id, SERVICE, Action.STOP, Status.RECORDING)
    assert worker.join() == "finished"

    (video,) = store.get(task_id).result["Videos"]
    duration = media.probe(local_file(capstan_env, video["FileURL"]))["duration"]
    shipped_before_kill = float(before["RecordedSeconds"])
    assert shipped_before_kill >= 2
    # Everything shipped before the kill and ~4 s after it; at most a segment lost.
    assert shipped_before_kill + 2 <= duration <= shipped_before_kill + 2 + 4 + 1.5
    names = [s["name"] for s in store.segments(task_id)]
    assert names == sorted(names) and names[-1].startswith("e0002")
    assert store.r.exists(sub_key(task_id, "lease")) == 0


def test_a_redis_restart_during_a_recording_loses_nothing(
    store, capstan_env, redis_server, monkeypatch
):
    """Redis (AOF) restarts mid-recording: the worker rides it out, ffmpeg keeps writing to
    disk, the segments are shipped once Redis is back, and the file has all of it."""
    monkeypatch.setenv("CAPSTAN_LEASE_TTL_S", "15")  # the restart must not look like a death
    from config.settings import reset_settings

    reset_settings()
    task_id = create(store)
    worker = Worker(store, task_id)
    started = wait_status(store, task_id, Status.RECORDING)
    time.sleep(3)
    redis_server.restart()
    time.sleep(4)
    store.control(task_id, SERVICE, Action.STOP, Status.RECORDING)
    recorded = time.monotonic() - started

    assert worker.join() == "finished"
    (video,) = store.get(task_id).result["Videos"]
    duration = media.probe(local_file(capstan_env, video["FileURL"]))["duration"]
    assert duration == pytest.approx(recorded, abs=1.5)


def test_storage_down_for_a_while_is_ridden_out_and_nothing_is_lost(
    store, capstan_env, monkeypatch
):
    """The output storage refuses writes for ~5 s: the upload is retried with backoff
    and succeeds once it is back; the segments wait, nothing is deleted before."""
    monkeypatch.setenv("CAPSTAN_UPLOAD_RETRY_WINDOW_S", "60")
    from config.settings import reset_settings

    reset_settings()
    output = capstan_env.output_dir
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text("not a directory: every write fails")
    task_id = create(store, MaxDurationLimit=3)
    worker = Worker(store, task_id)
    wait_status(store, task_id, Status.UPLOAD, timeout=30)
    time.sleep(3)
    assert store.get(task_id).status is Status.UPLOAD  # still trying
    assert store.segments(task_id)  # the recording waits in intermediate storage
    output.unlink()

    assert worker.join() == "finished"
    (video,) = store.get(task_id).result["Videos"]
    assert media.probe(local_file(capstan_env, video["FileURL"]))["duration"] == pytest.approx(
        3, abs=1.0
    )


def test_a_segment_list_that_lost_its_newest_entries_gets_them_again(store):
    """Redis replicates asynchronously and fsyncs its AOF every second: a failover or a
    restart may lose the newest appends. The worker lists them again, in order."""
    task_id = store.create(SERVICE, {}, "", request_id="lost-tail")
    entries = [
        {"name": f"e0001r0001_{i:05d}.ts", "key": f"raw/{i}", "duration": 2, "size": 1}
        for i in range(4)
    ]
    listed: list[dict] = []
    for entry in entries[:3]:
        assert store.add_segment(task_id, 1, entry, listed=listed)
        listed.append(entry)

    store.r.ltrim(sub_key(task_id, "segments"), 0, 0)  # the failover lost the last two
    assert store.add_segment(task_id, 1, entries[3], listed=listed)

    assert store.segments(task_id) == entries
    # A call retried after it had appended appends nothing more; another epoch nothing at all
    assert store.add_segment(task_id, 1, entries[3], listed=listed)
    assert not store.add_segment(task_id, 2, entries[3], listed=entries)
    assert store.segments(task_id) == entries


def test_a_task_whose_message_was_lost_is_queued_again_once_its_queue_is_empty(store, redis_server):
    from workers.common.runtime.reconciler import requeue_unstarted

    lost = store.create(SERVICE, {}, "", request_id="lost-message")
    claimed = store.create(SERVICE, {}, "", request_id="claimed")
    assert store.take_lease(claimed, 1, "host:1:1", 30)

    # A backlog in its queue: it waits its turn
    assert requeue_unstarted(store, lambda queue: 3, older_than_s=0) == []
    # Nothing waiting and it still not started: queued again; the claimed one left alone
    assert requeue_unstarted(store, lambda queue: 0, older_than_s=0) == [lost]
    (message,) = [json.loads(m) for m in redis_server.client(0).lrange(SERVICE, 0, -1)]
    assert message["headers"]["id"] == lost and message["headers"]["argsrepr"] == f"['{lost}']"
    # Not again before older_than_s has passed once more; never once it is canceled
    assert requeue_unstarted(store, lambda queue: 0, older_than_s=60) == []
    store.control(lost, SERVICE, Action.STOP, Status.RECORDING)
    assert requeue_unstarted(store, lambda queue: 0, older_than_s=0) == []


def test_with_start_confirmed_by_a_replica_an_unconfirmed_task_is_canceled_not_run(store):
    """Its Start was answered 503 (no replica confirmed it) and its withdrawal failed too
    (Redis away): the client retried; running this one too would record twice."""
    from workers.common.runtime.reconciler import requeue_unstarted

    answered_503 = store.create(SERVICE, {}, "", request_id="unconfirmed")
    answered_200 = store.create(SERVICE, {}, "", request_id="confirmed")
    store.r.hset(task_key(answered_200), "queued", "1")  # what confirm_replicated marks

    requeued = requeue_unstarted(store, lambda queue: 0, older_than_s=0, confirmed_only=True)

    assert requeued == [answered_200]
    assert store.get(answered_503).status is Status.CANCELED
