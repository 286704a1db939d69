"""The recorder's ffmpeg command line: pull one user's stream into MPEG-TS segments.

Pure functions (tests/unit/test_recorder_builders.py checks them against a table).
Streams are copied, never re-encoded, while recording: Mode 00 keeps the audio as it came
(AAC) and the MP3 encode happens once, in transcode.
"""

from __future__ import annotations

from workers.common.media import ffmpeg
from workers.common.media.ffmpeg import Ends, SegmentRun

# Mode -> which tracks of the user's stream go into the segments.
# 00: audio only; 01: video only; 02: both (either may be missing: a camera-only user).
TRACKS: dict[str, list[str]] = {
    "00": ["-map", "0:a:0", "-vn"],
    "01": ["-map", "0:v:0", "-an"],
    "02": ["-map", "0:v:0?", "-map", "0:a:0?"],
}
# Mode -> (extension, audio, video) of the final file.
OUTPUTS: dict[str, tuple[str, bool, bool]] = {
    "00": ("mp3", True, False),
    "01": ("mp4", False, True),
    "02": ("mp4", True, True),
}


def pull_argv(
    binary: str, url: str, mode: str, run: SegmentRun, *, segment_s: int, rw_timeout_s: float
) -> list[str]:
    """ffmpeg reading ``url`` until the stream ends or stalls for ``rw_timeout_s``.

    stdin stays open so that Stop's 'q' lets the segment muxer close its last segment.
    """
    return [
        binary,
        *ffmpeg.base(interactive=True),
        # A read that blocks this long fails: a user gone without a goodbye is noticed.
        "-rw_timeout", str(int(rw_timeout_s * 1_000_000)),
        "-i", url,
        *TRACKS[mode],
        "-c", "copy",
        *ffmpeg.segment_output(run, segment_s, timeline_offset_s=run_offset_s(mode, run.start)),
    ]  # fmt: skip


def run_offset_s(mode: str, start: Ends) -> float:
    """Where a run's zero goes on the recording's timeline (one offset: copied streams
    keep the sender's clock).

    The sound goes on exactly where it ended: a player plays samples back to back, so a
    hole there would move all later sound earlier (18.8 ms per return, measured). The
    video before may have ended up to a frame later than the sound; the run's first
    frame then only shortens the last one shown before it (its timestamps still rise).
    """
    if OUTPUTS[mode][1] and start.audio_s > 0:
        return start.audio_s
    return start.base_s


def output_name(user_id: str, stop_time: int | str, mode: str) -> str:
    """``<UserId>_<stop time>.mp3`` or ``.mp4``."""
    return f"{user_id}_{stop_time}.{OUTPUTS[mode][0]}"


# ---- WebRTC rooms (Janus): the SFU forwards the user's RTP to the worker -------------

# A VideoRoom codec name -> its SDP rtpmap (the payload type is the farm's, set in rtp_forward).
RTP_CODECS: dict[str, str] = {
    "opus": "opus/48000/2",
    "pcmu": "PCMU/8000",
    "pcma": "PCMA/8000",
    "g722": "G722/8000",
    "vp8": "VP8/90000",
    "vp9": "VP9/90000",
    "h264": "H264/90000",
    "av1": "AV1/90000",
}
AUDIO_PT = 111
VIDEO_PT = 96
RTP_FPS = 30  # the H.264 the forwarded video is encoded to while recording
# How long ffmpeg reads forwarded RTP for a keyframe of each stream before it gives up (the
# run then ends and a new one starts): Janus 1.1 asks the publisher for none when a forward
# starts, so the first comes with the room's next keyframe request (fir_freq, e.g. 10 s).
RTP_PROBE_S = 12


def rtp_sdp(audio: tuple[int, str] | None, video: tuple[int, str] | None) -> str:
    """The SDP ffmpeg reads forwarded RTP with: (port, codec) per stream, on loopback."""
    lines = ["v=0", "o=- 0 0 IN IP4 127.0.0.1", "s=capstan", "c=IN IP4 127.0.0.1", "t=0 0"]
    for kind, stream, pt in (("audio", audio, AUDIO_PT), ("video", video, VIDEO_PT)):
        if stream is None:
            continue
        port, codec = stream
        lines += [f"m={kind} {port} RTP/AVP {pt}", f"a=rtpmap:{pt} {RTP_CODECS[codec]}"]
        if codec == "h264":
            lines.append(f"a=fmtp:{pt} packetization-mode=1")
    return "\n".join(lines) + "\n"


def rtp_pull_argv(
    binary: str, sdp: str, mode: str, run: SegmentRun, *, segment_s: int
) -> list[str]:
    """ffmpeg reading forwarded RTP (the SDP file ``sdp``) into H.264/AAC segments.

    WebRTC's VP8/Opus cannot be copied into MPEG-TS: they are encoded here, once, so the
    segments are what an RTMP pull copies and finalize is the same for both backends.
    Nothing ends the input but 'q' (UDP has no end): the caller watches the room.
    """
    return [
        binary,
        *ffmpeg.base(interactive=True),
        "-protocol_whitelist", "file,udp,rtp",
        "-analyzeduration", str(RTP_PROBE_S * 1_000_000),
        "-i", sdp,
        *TRACKS[mode],
        *ffmpeg.h264_encode(RTP_FPS, segment_s),
        *ffmpeg.segment_output(run, segment_s, timeline_offset_s=run_offset_s(mode, run.start)),
    ]  # fmt: skip
