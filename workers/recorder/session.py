"""The recorder: record one user's stream of a room to MP3 (Mode 00) or MP4 (01, 02).

Capture is a series of pull runs (ffmpeg, stream copy into segments). A run ends when the
user leaves, or when its ffmpeg hangs (no segment byte for stall_timeout_s: it is killed,
and that counts as the user leaving); while they are away the pull is retried with a short
backoff, and a return is a new run, so the final file (the concatenation) has no gap.
Away for MaxIdleTime: the recording ends; never there at all: it ends with Status 0 and
says so.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from workers.common.domain import rooms
from workers.common.domain.errors import Code, UserFault
from workers.common.domain.specs.recorder import RecorderStart
from workers.common.media import transcode
from workers.common.media.process import ManagedProcess
from workers.common.runtime.session import (
    Destination,
    EndReason,
    Session,
    TaskContext,
    UploadedFile,
)
from workers.recorder import builders, delivery, janus_pull
from workers.recorder.presence import user_presence
from workers.recorder.puller import PullRun, RunEnd, last_error

log = logging.getLogger(__name__)

STALLED_STOP_GRACE_S = 1.0  # a hung ffmpeg answers neither 'q' nor signals: SIGKILL soon


class RecorderSession(Session[RecorderStart]):
    spec_model = RecorderStart

    def __init__(self, ctx: TaskContext[RecorderStart]) -> None:
        super().__init__(ctx)
        spec, settings = ctx.spec, ctx.settings
        self.url = rooms.pull_url(
            settings, spec.SdkAppId, spec.room, spec.UserId, spec.UserSig.get_secret_value()
        )
        # A WebRTC room (Janus): the room is asked, and forwards the user's RTP to a run.
        self.janus = (
            janus_pull.JanusRoom(settings, str(spec.room), spec.UserId, self._sig)
            if settings.room_backend == "janus"
            else None
        )
        self.presence = user_presence(float(spec.MaxIdleTime), settings.recorder_retry_max_s)
        self.pull: PullRun | None = None
        self.last_error = ""
        self._reported: int | None = None

    # ---- capture ---------------------------------------------------------------------

    def start(self) -> None:
        # A takeover after a crash: what earlier workers recorded means the user was here.
        if self.ctx.store.segments(self.ctx.task_id):
            self.presence.ever_seen = True
        if self.janus is not None:
            self.janus.check()
        self.presence.begin(time.monotonic())
        self._try_pull()

    def pause(self) -> None:
        self._stop_pull()

    def resume(self) -> None:
        self.presence.begin(time.monotonic())
        self._try_pull()

    def stop(self) -> None:
        self._stop_pull()

    def poll(self) -> EndReason | None:
        now = time.monotonic()
        if self.pull is not None:
            self._watch(self.pull, now)
        # Away for MaxIdleTime ends the recording, even with a pull still trying (one
        # hung before its first byte included): the runtime's stop() ends that pull.
        if self.presence.idle(now):
            return self._idle_end(now)
        if self.pull is None and self.presence.due(now):
            self._try_pull()
        self._report()
        return None

    def _report(self) -> None:
        """Describe's Progress.UserPresent: 1 once media from the user is being written."""
        present = int(self.presence.present)
        if present != self._reported:
            self.ctx.report(UserPresent=present)
            self._reported = present

    def max_duration_s(self) -> float | None:
        return float(self.spec.MaxDurationLimit)

    def _try_pull(self) -> None:
        if self.janus is not None:
            return self._try_janus_pull()
        settings = self.ctx.settings
        run = self.ctx.new_run()
        argv = builders.pull_argv(
            settings.ffmpeg,
            self.url,
            self.spec.Mode,
            run,
            segment_s=settings.segment_seconds,
            rw_timeout_s=settings.recorder_rw_timeout_s,
        )
        self.pull = PullRun(
            run, ManagedProcess(f"recorder-pull-{run.stem}", argv, secrets=[self._sig]).start()
        )

    def _try_janus_pull(self) -> None:
        """A run once the user publishes in the room; until then, a look that found nobody."""
        assert self.janus is not None
        try:
            self.pull = janus_pull.start_run(self.janus, self.ctx.new_run, self.spec.Mode)
        except janus_pull.JanusDown as exc:
            if not self.presence.ever_seen:
                raise self.janus.unreachable(exc) from exc
            self.last_error = f"the room backend did not answer: {exc}"
        if self.pull is None:
            self.presence.run_ended(time.monotonic())

    def _watch(self, pull: PullRun, now: float) -> None:
        if not self.presence.present and pull.has_media():
            log.info("task %s: user %s is here", self.ctx.task_id, self.spec.UserId)
            self.presence.seen()
        if pull.alive:
            if self.presence.present:
                self._end_if_stalled(pull, now)
            return
        self.pull = None
        why = pull.end()
        self.ctx.end_run(pull.run)
        self.last_error = last_error(pull.process.tail(), self.url, self._sig)
        if why is RunEnd.NO_TRACK:
            raise UserFault(self._no_track_message(), code=Code.RECORD_FAILED)
        if why is RunEnd.UNREACHABLE and not self.presence.ever_seen:
            # The host/port is wrong or down before anyone was recorded: configuration.
            raise UserFault(
                f"recording failed: cannot reach the room backend at "
                f"{rooms.redact(self.url, self._sig)}: {self.last_error}",
                code=Code.ROOM_BACKEND_UNREACHABLE,
            )
        if self.presence.present:
            log.info("task %s: user %s left (%s)", self.ctx.task_id, self.spec.UserId, why.value)
        self.presence.run_ended(now)

    def _end_if_stalled(self, pull: PullRun, now: float) -> None:
        """A pull that wrote media, then nothing for stall_timeout_s, is hung (rw_timeout
        did not end it): kill it and count it as the user dropping. A new run starts as
        soon as the stream is there; the time away counts toward MaxIdleTime. (Before its
        first byte a pull is still connecting: MaxIdleTime bounds that, see poll().)"""
        limit = self.ctx.settings.stall_timeout_s
        if pull.stalled_for_s(now) <= limit:
            return
        log.warning(
            "task %s: the pull wrote nothing for %.0fs: restarting it", self.ctx.task_id, limit
        )
        pull.stop(grace_s=STALLED_STOP_GRACE_S)
        self.ctx.end_run(pull.run)
        self.pull = None
        self.last_error = f"the pull wrote no media for {limit:.0f}s and was restarted"
        self.presence.run_ended(now)

    def _idle_end(self, now: float) -> EndReason:
        spec = self.spec
        if self.presence.ever_seen:
            return EndReason(f"user absent for {self.presence.absent_for(now):.0f} s")
        message = (
            f"recording failed: user {spec.UserId} never published in room {spec.room} "
            f"within MaxIdleTime ({spec.MaxIdleTime} s)"
        )
        return EndReason("user never published", Code.USER_NOT_PUBLISHED, message)

    def _no_track_message(self) -> str:
        wanted = {"00": "audio (Mode 00)", "01": "video (Mode 01)"}.get(self.spec.Mode, "media")
        return f"recording failed: user {self.spec.UserId}'s stream has no {wanted}"

    def _stop_pull(self) -> None:
        if self.pull is not None:
            self.pull.stop()
            self.ctx.end_run(self.pull.run)
            self.pull = None

    @property
    def _sig(self) -> str:
        return self.spec.UserSig.get_secret_value()

    # ---- finalize --------------------------------------------------------------------

    def transcode(self, segments: list[Path], out_dir: Path) -> list[Path]:
        # A run stopped before ffmpeg wrote its first packet (it waits for a keyframe)
        # leaves an empty, listed segment: the concat demuxer cannot open it.
        segments = [path for path in segments if path.stat().st_size > 0]
        if not segments:
            raise UserFault(
                f"no media from user {self.spec.UserId} reached the recorder",
                Code.NO_MEDIA_RECORDED,
            )
        mode, ffmpeg_cmd = self.spec.Mode, self.ctx.settings.ffmpeg
        stop_time = self.ctx.record.times.get("stop_time", int(time.time()))
        out = out_dir / builders.output_name(self.spec.UserId, stop_time, mode)
        if mode == "00":
            return [transcode.to_mp3(segments, out, ffmpeg_cmd=ffmpeg_cmd, timeline=True)]
        _, audio, video = builders.OUTPUTS[mode]
        return [
            transcode.to_mp4(
                segments, out, ffmpeg_cmd=ffmpeg_cmd, audio=audio, video=video, timeline=True
            )
        ]

    def destination(self) -> Destination:
        return delivery.destination(self.spec, self.ctx.settings, self.ctx.task_id)

    def callback_url(self) -> str | None:
        return self.spec.Callback

    def callback_body(self, describe: dict[str, Any], files: list[UploadedFile]) -> dict[str, Any]:
        result = describe.get("Result") or {}
        body = {key: result[key] for key in delivery.SEEDS_KEYS if key in result}
        lost = describe.get("Progress", {}).get("MediaLostSeconds")
        if lost is not None:  # a takeover happened: the seeds' body plus what it cost
            body["MediaLostSeconds"] = lost
        return body

    def result_extra(self, files: list[UploadedFile], error: str) -> dict[str, Any]:
        return delivery.seeds_body(self.spec, files, error)

    def close(self) -> None:
        # After stop() there is no pull left; one still here means capture was cut short
        # (another worker owns the task now): kill it, closing no segment.
        if self.pull is not None:
            self.pull.kill()
            self.pull = None
