"""A real media session for proving the runtime: ffmpeg records lavfi testsrc2 + a
1 kHz tone into segments. It is what a pool's session does, minus the source."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from workers.common.delivery.storage import S3Storage, farm_s3
from workers.common.domain.errors import Code, FarmFault
from workers.common.domain.specs.base import Spec
from workers.common.media import ffmpeg, transcode
from workers.common.media.process import ManagedProcess
from workers.common.runtime.session import Destination, EndReason, Session


class PatternSpec(Spec):
    MaxDurationLimit: int = 0
    CallbackURL: str | None = None
    Bucket: str | None = None
    Password: SecretStr | None = None  # a secret, to check it is sealed


class PatternSession(Session[PatternSpec]):
    spec_model = PatternSpec

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.proc: ManagedProcess | None = None

    def _capture(self) -> None:
        seconds = self.ctx.settings.segment_seconds
        run = self.ctx.new_run()
        argv = [
            self.ctx.settings.ffmpeg, *ffmpeg.base(interactive=True),
            "-re", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
            "-re", "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000",
            *ffmpeg.h264_encode(25, seconds, preset="ultrafast"),
            *ffmpeg.segment_output(run, seconds),
        ]  # fmt: skip
        self.proc = ManagedProcess("pattern-ffmpeg", argv).start()

    def start(self) -> None:
        self._capture()

    def pause(self) -> None:
        self.stop()

    def resume(self) -> None:
        self._capture()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop(quit_key=True)
            self.proc.close()
            self.proc = None

    def poll(self) -> EndReason | None:
        if self.proc is not None and not self.proc.alive:
            raise FarmFault(str(self.proc.failure("test pattern ffmpeg died")), Code.RECORD_FAILED)
        return None

    def max_duration_s(self) -> float | None:
        return float(self.spec.MaxDurationLimit) or None

    def transcode(self, segments: list[Path], out_dir: Path) -> list[Path]:
        out = out_dir / f"{self.ctx.record.times['stop_time']}.mp4"
        return [transcode.to_mp4(segments, out, ffmpeg_cmd=self.ctx.settings.ffmpeg)]

    def destination(self) -> Destination:
        if self.spec.Bucket:
            storage = S3Storage(farm_s3(self.ctx.settings, self.spec.Bucket))
            return Destination(storage, f"pattern/{self.ctx.task_id}")
        return super().destination()

    def callback_url(self) -> str | None:
        return self.spec.CallbackURL

    def close(self) -> None:
        self.stop()
