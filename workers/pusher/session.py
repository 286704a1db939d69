"""The pusher's session: publish videoSrc into the room in real time, from where it left off.

    start ─▶ probe the source ─▶ run ffmpeg (copy H.264/AAC, else encode) ─▶ flowing
    poll  ─▶ position to Describe and (redis: true) to Redis; end of file ─▶ loop or finish
    pause ─▶ stop the run, keep the position; resume ─▶ a new run from that position

A run that dies or stalls is retried from its position; a source gone for MaxIdleTime
ends the task (SourceUnavailable for a file, SourceLost for a live stream). A room that
refuses the publish ends it at once (PublishRefused).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

from workers.common.domain import redaction, rooms
from workers.common.domain.errors import Code, UserFault
from workers.common.domain.specs.pusher import PusherStart
from workers.common.domain.states import Status
from workers.common.pacing.backoff import Backoff, Clock
from workers.common.pacing.presence import Presence
from workers.common.runtime.session import EndReason, Session, TaskContext
from workers.pusher import builders
from workers.pusher.progress import ProgressStore, progress_store
from workers.pusher.push import Failure, PushRun, failure_of
from workers.pusher.source import (
    SourceFacts,
    keyframe_at,
    probe_source,
    source_of,
)
from workers.pusher.timeline import Passes, RunPlan
from workers.pusher.webrtc_push import WebRtcPushRun, webrtc_room

log = logging.getLogger(__name__)

END_TOLERANCE_S = 1.5  # a clean exit this close to the end is the end of the file
RETRY_FIRST_S, RETRY_MAX_S = 1.0, 5.0  # out: looked for after 1 s, then 1, 2, 4, every 5 s
STALLED_STOP_GRACE_S = 1.0  # a hung ffmpeg answers neither 'q' nor signals: SIGKILL soon


class PusherSession(Session[PusherStart]):
    spec_model = PusherStart
    produces_media = False

    def __init__(self, ctx: TaskContext[PusherStart], clock: Clock = time.monotonic) -> None:
        super().__init__(ctx)
        spec, settings = ctx.spec, ctx.settings
        self.source = source_of(spec.videoSrc, settings)
        self.user_sig = spec.userSig.get_secret_value()
        self.room_url = rooms.push_url(
            settings, int(spec.sdkAppId), spec.roomId, spec.userId, self.user_sig
        )
        # A WebRTC room (room_backend "janus", or any SFU's WHIP endpoint at whip_url),
        # published into by a second process.
        user = rooms.RoomUser(int(spec.sdkAppId), str(spec.roomId), spec.userId, self.user_sig)
        self.webrtc = (
            webrtc_room(settings, user)
            if settings.room_backend == "janus" or settings.whip_url
            else None
        )
        if self.webrtc is not None:
            self.room_url = self.webrtc.shown
        self.saved: ProgressStore | None = None
        if spec.redis and not self.source.live:
            self.saved = progress_store(spec, settings)
        self.facts: SourceFacts | None = None
        self.passes = Passes(0 if self.source.live else spec.Loop)
        self.position_s = 0.0  # where the next run starts (files)
        self.pushed_s = 0.0  # media seconds published by finished runs (live)
        self.run: PushRun | None = None
        self.plan = RunPlan(0.0, 0, None)
        self.opened = ""  # the URL the current run reads (maybe a signed link)
        # The source (and the room) is "here" while media flows; out, it is looked for again.
        self.presence = Presence(
            float(spec.MaxIdleTime), Backoff(RETRY_FIRST_S, RETRY_MAX_S), clock
        )
        self.last_problem = ""
        self.last_side = ""  # which side failed last: "room", "source" or ""
        self.last_code: Code | None = None  # and the error code it would end the task with
        self.finished = False

    # ---- the contract ----------------------------------------------------------------

    def start(self) -> None:
        self._prepare()
        if self.facts is None:
            self._outage("the live source is not there yet")
            return
        self._launch_and_wait()

    def pause(self) -> None:
        self._end_run()
        self._save()

    def resume(self) -> None:
        self.presence.forget_absence()
        if self.facts is None:  # a takeover while paused, or a live stream not there yet
            self.start()
            return
        self._launch_and_wait()

    def stop(self) -> None:
        self._end_run()
        if not self.finished:
            self._save()

    def poll(self) -> EndReason | None:
        run = self.run
        if run is None:
            return self._while_out()
        if run.alive:
            self._watch(run)
            return None
        return self._after_exit(run)

    def close(self) -> None:
        if self.run is not None:
            self.run.stop()
            self.run = None

    # ---- preparing and launching -----------------------------------------------------

    def _prepare(self) -> None:
        """Read the source's facts and decide where to start."""
        timeout = self.ctx.settings.push_start_timeout_s
        try:
            self.facts = probe_source(self.source, timeout)
        except UserFault:
            if not self.source.live:
                raise
            self.facts = None  # a live stream may come later: poll() keeps trying
        if not self.source.live:
            self.position_s = self._first_position()

    def _first_position(self) -> float:
        assert self.facts is not None
        duration = self.facts.duration_s
        spec = self.ctx.spec
        own = self.ctx.record.progress
        if self.ctx.record.status is not Status.NORMAL and "Position" in own:
            # A takeover of this very task: carry on where the last worker was.
            self.passes.done = int(float(own.get("Passes", "0") or 0))
            position = float(own["Position"])
        else:
            stored = self.saved.load() if self.saved is not None else None
            position = stored if stored is not None else float(spec.SeekSecond)
            if stored is None and duration and position >= duration:
                raise UserFault(
                    f"SeekSecond {spec.SeekSecond:g} is beyond the end of videoSrc "
                    f"({duration:.1f}s)",
                    code=Code.INVALID_PARAM,
                )
        if duration and position >= duration - END_TOLERANCE_S:
            position = 0.0  # a stored position at the very end: start over
        return position

    def _codec_plan(self) -> builders.CodecPlan:
        assert self.facts is not None
        if self.webrtc is not None:  # VP8/Opus, whatever the source holds
            return dataclasses.replace(self.facts.plan, may_copy=False)
        return self.facts.plan

    def _launch(self) -> None:
        assert self.facts is not None
        duration = self.facts.duration_s
        plan = self._codec_plan()
        start = 0.0 if self.source.live else self.position_s
        extra = 0 if self.source.live else self.passes.extra_for_run(start)
        self.opened = self.source.url()
        base = start
        if start > 0 and plan.copy_video:
            # Stream copy starts at the keyframe before the seek point: count from there.
            timeout = self.ctx.settings.push_start_timeout_s
            found = keyframe_at(self.source, self.opened, start, timeout)
            base = found if found is not None else start
        self.plan = RunPlan(base, extra, duration)
        source = builders.PushInput(self.opened, self.source.live, start, extra)
        name, binary = f"push-{self.ctx.task_id[:8]}", self.ctx.settings.ffmpeg
        if self.webrtc is not None:
            self.run = WebRtcPushRun(
                name, binary, source, plan, self.webrtc, secrets=[self.user_sig]
            ).start()
        else:
            argv = builders.push_argv(binary, source, plan, self.room_url)
            self.run = PushRun(name, argv, [self.user_sig]).start()
        log.info(
            "task %s: pushing %s from %.2fs (%s) to %s",
            self.ctx.task_id,
            self.source.shown,
            base,
            "copy" if plan.copies_all else "encode",
            rooms.redact(self.room_url, self.user_sig),
        )

    def _launch_and_wait(self) -> None:
        """Start a run and wait until media flows; a refusal or unreadable source raises."""
        self._launch()
        run = self.run
        assert run is not None
        if run.wait_flowing(self.ctx.settings.push_start_timeout_s):
            self._flowing()
            return
        failure = self._failure(run)
        self._end_run()
        if failure.side == "room":
            raise self._refused(failure)
        if self.source.live:
            self._outage(failure.message)
            return
        raise UserFault(
            f"videoSrc {self.source.shown} could not be pushed: {failure.message}",
            code=Code.SOURCE_UNAVAILABLE,
        )

    # ---- while running ---------------------------------------------------------------

    def _watch(self, run: PushRun) -> None:
        if run.flowing and not self.presence.present:
            self._flowing()
        stall = min(self.ctx.settings.stall_timeout_s, float(self.ctx.spec.MaxIdleTime))
        if run.stalled_for_s > stall:
            log.warning("task %s: push stalled for %.0fs, restarting", self.ctx.task_id, stall)
            self._end_run(grace_s=STALLED_STOP_GRACE_S)
            self._outage(f"nothing was pushed for {stall:.0f}s")
            return
        self._report(run)
        self._save()

    def _after_exit(self, run: PushRun) -> EndReason | None:
        if not self.source.live and run.reached_end and self._at_end(run):
            self._end_run()
            return self._end_of_pass()
        failure = self._failure(run)
        self._end_run()
        if failure.side == "room" and not run.flowing and not self.presence.ever_seen:
            raise self._refused(failure)
        log.warning("task %s: push ended early: %s", self.ctx.task_id, failure.message)
        self.last_side, self.last_code = failure.side, failure.code
        self._outage(failure.message)
        return None

    def _at_end(self, run: PushRun) -> bool:
        plan = self.plan
        if not plan.duration_s or plan.extra_passes < 0:
            return plan.extra_passes >= 0
        expected = plan.duration_s - plan.base_s + plan.extra_passes * plan.duration_s
        return run.out_time_s >= expected - END_TOLERANCE_S

    def _end_of_pass(self) -> EndReason | None:
        """The run played to the end of the file: loop, or the push is done."""
        self.position_s = 0.0
        if not self.passes.finished:
            self._launch_and_wait()
            return None
        self.finished = True
        if self.saved is not None:
            self.saved.clear()
        duration = self.facts.duration_s if self.facts is not None else None
        self._report_position(duration or self.position_s, final=True)
        return EndReason("videoSrc pushed to the end")

    def _while_out(self) -> EndReason | None:
        """No run: the source (or the room) went away; retry until MaxIdleTime."""
        presence = self.presence
        now = presence.clock()
        idle_limit = presence.max_idle_s
        if presence.idle(now):
            return self._gone(idle_limit)
        if not presence.due(now):
            return None
        presence.tried(now)
        if self.facts is None or self.source.live:
            try:
                self.facts = probe_source(self.source, min(10.0, idle_limit))
            except UserFault as exc:
                self.last_problem, self.last_side = exc.message, "source"
                return None
        self._launch()
        return None

    def _gone(self, idle_limit: float) -> EndReason:
        problem = self.last_problem
        detail = f": {problem}" if problem else ""
        if self.last_side == "room":
            message = f"no publish for {idle_limit:.0f}s{detail}"
            raise self._refused(Failure("room", message, self.last_code))
        if self.source.live:
            return EndReason(
                "live source gone",
                error_code=Code.SOURCE_LOST,
                error_message=(
                    f"the live source {self.source.shown} was gone for more than "
                    f"{idle_limit:.0f}s (MaxIdleTime){detail}"
                ),
            )
        raise UserFault(
            f"videoSrc {self.source.shown} could not be read for {idle_limit:.0f}s{detail}",
            code=Code.SOURCE_UNAVAILABLE,
        )

    # ---- bookkeeping -----------------------------------------------------------------

    def _flowing(self) -> None:
        self.presence.seen()
        self.last_problem = ""

    def _outage(self, problem: str) -> None:
        self.presence.left()
        self.last_problem = problem

    def _end_run(self, grace_s: float = 3.0) -> None:
        """Stop the current run (if any) and fold what it published into the position."""
        run = self.run
        if run is None:
            return
        run.stop(grace_s)
        self.run = None
        if self.source.live:
            self.pushed_s += run.out_time_s
        else:
            spot = self.plan.spot(run.out_time_s)
            self.position_s = spot.position_s
            self.passes.done += spot.passes_done
            duration = self.plan.duration_s
            if duration and self.position_s >= duration - 0.05:
                self.position_s = 0.0
        self._report_position(self.position_s if not self.source.live else self.pushed_s)

    def _failure(self, run: PushRun) -> Failure:
        failure = run.failure() if isinstance(run, WebRtcPushRun) else None
        failure = failure or failure_of(run, self.opened, self.room_url)
        message = self.source.hide(failure.message, self.opened)
        message = message.replace(self.room_url, rooms.redact(self.room_url, self.user_sig))
        # Not rooms.redact on the whole line: its usersig= rule would eat the reason too.
        message = redaction.hide(message, [self.user_sig])
        return Failure(failure.side, message, failure.code)

    def _refused(self, failure: Failure) -> UserFault:
        room = rooms.redact(self.room_url, self.user_sig)
        if failure.code is Code.ROOM_BACKEND_UNREACHABLE:
            return UserFault(
                f"cannot reach the room backend for {room}: {failure.message}",
                code=Code.ROOM_BACKEND_UNREACHABLE,
            )
        return UserFault(
            f"the room refused the publish to {room}: {failure.message}", code=Code.PUBLISH_REFUSED
        )

    def _current(self, run: PushRun) -> float:
        if self.source.live:
            return self.pushed_s + run.out_time_s
        return self.plan.spot(run.out_time_s).position_s

    def _report(self, run: PushRun) -> None:
        self._report_position(self._current(run))

    def _report_position(self, position_s: float, final: bool = False) -> None:
        figures: dict[str, Any] = {"Position": round(position_s, 2)}
        duration = self.facts.duration_s if self.facts is not None else None
        if duration and not self.source.live:
            figures["Duration"] = round(duration, 2)
            figures["Percent"] = round(min(100.0, 100.0 * position_s / duration), 1)
            passes = self.passes.done
            if self.run is not None:
                passes += self.plan.spot(self.run.out_time_s).passes_done
            figures["Passes"] = passes
        if final:
            figures["Percent"] = 100.0
        self.ctx.report(**figures)

    def _save(self) -> None:
        if self.saved is None or self.finished or not self.presence.ever_seen:
            return
        position = self._current(self.run) if self.run is not None else self.position_s
        duration = self.facts.duration_s if self.facts is not None else None
        self.saved.save(position, duration, self.ctx.task_id)
