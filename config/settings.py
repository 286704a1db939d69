"""The one Settings object: every address, default and limit of the farm.

Read from the environment (prefix ``CAPSTAN_``) once, checked at start-up.
Nothing else in the code reads ``os.environ``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from cryptography.fernet import Fernet
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from config import redis_url
from config.redis_url import RedisTarget


@dataclass(frozen=True)
class PoolDefaults:
    concurrency: int  # tasks one worker process runs at once (`celery -c`): its slots


# The pools, one Celery queue each, with their defaults. Their names are the services of
# workers/common/domain/services.py, repeated here because config sits below the domain and the
# supervisor and probe read them without it (tests/unit/test_services.py keeps the two
# equal; tests/unit/test_helm_matches_code.py keeps the chart's pools equal to these).
POOLS: dict[str, PoolDefaults] = {
    "recorder": PoolDefaults(concurrency=40),
    "pusher": PoolDefaults(concurrency=40),
    "panorama": PoolDefaults(concurrency=2),
}
SERVICES: tuple[str, ...] = tuple(POOLS)

# Room backend presets: pull a user's stream / push into a room.
# {SdkAppId} {Room} {UserId} {UserSig} are filled in by workers.common.domain.rooms.
ROOM_TEMPLATES: dict[str, tuple[str, str]] = {
    "rtmp": (
        "rtmp://127.0.0.1:{RtmpPort}/live/{SdkAppId}_{Room}_{UserId}",
        "rtmp://127.0.0.1:{RtmpPort}/live/{SdkAppId}_{Room}_{UserId}",
    ),
    "trtc": (
        "rtmp://{CdnDomain}/live/{SdkAppId}_{Room}_{UserId}_main",
        "rtmp://rtmp.rtc.qq.com/push/{Room}?sdkappid={SdkAppId}&userid={UserId}&usersig={UserSig}",
    ),
    # A Janus VideoRoom is reached through its API (janus_url), not a URL per user: these
    # only name the user in messages.
    "janus": ("janus://{Room}/{UserId}", "janus://{Room}/{UserId}"),
}


# x264's presets, fastest first.
X264Preset = Literal[
    "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"
]


class Settings(BaseSettings):
    # hide_input_in_errors: a start-up error must not print the environment (its secrets).
    model_config = SettingsConfigDict(
        env_prefix="CAPSTAN_", extra="ignore", hide_input_in_errors=True
    )

    # Redis: db0 broker, db1 Celery results, db2 task store (DESIGN section 1).
    # One Redis (redis://[:password@]host:port) or a Sentinel group
    # (sentinel://[:password@]host:26379;sentinel://host:26379;...; see config/redis_url.py).
    redis_url: str = "redis://127.0.0.1:6379"
    # Sentinel only: the monitored master's name, and the sentinels' own password (if any).
    redis_master_name: str = "mymaster"
    redis_sentinel_password: str = ""
    # Replicas that must hold a new task (record and queue message, Redis WAIT) before
    # Start answers 200; if they do not within the timeout, Start answers 503 (retry).
    # Default: 1 with Sentinel (a failover loses no accepted task), 0 with one Redis.
    redis_min_replicas: int | None = Field(default=None, ge=0)
    redis_replica_timeout_s: float = Field(default=1.0, gt=0, le=30)
    broker_db: int = 0
    result_db: int = 1
    store_db: int = 2

    # Dispatcher.
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = "http://127.0.0.1:8080"
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    # The HTTP server's processes (0: one per core) and the threads of each running the app
    # (dispatcher/serve.py; measured with bench/dispatcher.py).
    dispatcher_workers: int = Field(default=0, ge=0)
    dispatcher_threads: int = Field(default=4, ge=1)
    # Proxies in front of the dispatcher whose X-Forwarded-For/-Proto it believes (the access
    # line's client); 0 when clients reach it directly, or anyone could name any address.
    forwarded_hops: int = Field(default=0, ge=0)
    # HMAC request signing (DESIGN section 3): {"app key": "secret"}; empty = open.
    app_keys: dict[str, str] = Field(default_factory=dict)
    signature_max_skew_s: int = 300

    # Flower.
    flower_port: int = 5555

    # Where the farm keeps its files: segments (cfs), local output, keys.
    data_dir: Path = Path("var")
    # Fernet keys for the secrets kept in task records, comma-separated: the first seals,
    # every one opens (rotation). The same on every machine; empty only on loopback (then
    # a key file in data_dir).
    secret_key: str = ""

    # Output storage: "local" (served by the dispatcher under /files/) or "s3".
    storage: Literal["local", "s3"] = "local"
    s3_endpoint_url: str = ""
    s3_region: str = "us-east-1"
    s3_bucket: str = "capstan"
    s3_access_key: str = ""
    s3_secret_key: str = ""
    # Intermediate storage for StorageType "cos": this bucket (or s3_bucket) under raw/.
    s3_raw_bucket: str = ""
    # Where closed segments wait until the output is made (recorder, panorama): "dir" (a
    # directory every worker shares: one machine, or a ReadWriteMany volume) or "s3" (the
    # bucket above, under raw/). "auto": s3 when the output storage is s3. On machines that
    # share no disk it must be s3: the worker that finishes a task may not have started it.
    intermediate_storage: Literal["auto", "dir", "s3"] = "auto"
    # The shared directory for "dir" (default: data_dir/segments).
    intermediate_dir: Path | None = None
    # FileURL of S3 output without a Domain: "signed", the dispatcher's /files/s3/... link
    # that answers with a redirect to a fresh presigned URL (private buckets; old callbacks
    # keep working), or "bucket", the plain bucket URL (public buckets).
    s3_file_urls: Literal["signed", "bucket"] = "signed"
    # The endpoint clients reach the bucket at, for presigned URLs (empty: s3_endpoint_url).
    s3_public_endpoint_url: str = ""
    # How long a presigned URL the dispatcher redirects to stays valid.
    s3_link_ttl_s: int = Field(default=3600, ge=60, le=7 * 24 * 3600)

    # Rooms.
    room_backend: Literal["rtmp", "trtc", "janus"] = "rtmp"
    room_pull_template: str = ""
    room_push_template: str = ""
    trtc_cdn_domain: str = ""
    rtmp_port: int = 1935
    # room_backend "janus": the Janus HTTP API (VideoRoom plugin); the room's secret and the
    # VideoRoom's admin_key, when that Janus asks them of rtp_forward (lock_rtp_forward).
    janus_url: str = "http://127.0.0.1:8088/janus"
    janus_timeout_s: float = Field(default=5.0, gt=0)
    janus_room_secret: str = ""
    janus_admin_key: str = ""
    # Where Janus sends a recorded user's RTP: this worker's address as Janus reaches it
    # (the chart sets the pod's address; loopback when Janus runs on the same host).
    janus_forward_host: str = "127.0.0.1"
    # The pusher publishes through WHIP (RFC 9725) at this URL instead, when set: a template
    # with {Room}, {UserId}, {SdkAppId} (e.g. simple-whip-server in front of Janus,
    # http://whip:7080/whip/endpoint/{Room}); the UserSig is the bearer token.
    whip_url: str = ""

    # URL policy (SSRF): networks a task may reach although private/loopback.
    url_allowlist: list[str] = Field(default_factory=list)
    # Redis hosts a pusher request may name in redisHost.
    redis_host_allowlist: list[str] = Field(default_factory=list)

    # Worker runtime.
    lease_ttl_s: float = 15.0
    lease_renew_s: float = 3.0
    control_poll_s: float = 0.5
    segment_seconds: int = Field(default=4, ge=1, le=60)
    reconcile_every_s: float = 5.0
    # A task still waiting to start this long after it was queued, with nothing waiting in
    # its queue, lost its message (a worker killed with it prefetched, a Redis failover):
    # the reconciler queues it again (a second copy finds it held or finished: harmless).
    unstarted_requeue_s: float = Field(default=60.0, gt=0)
    worker_concurrency: dict[str, int] = Field(
        default_factory=lambda: {name: pool.concurrency for name, pool in POOLS.items()}
    )
    # Admission counts slots: a Start is admitted while the service's active tasks are fewer
    # than its live workers' slots (each advertises its concurrency, workers.common.runtime
    # .slots), or than the slots its autoscaler can bring it to (maxReplicas x concurrency,
    # set by the chart with KEDA; 0: none), whichever is more; beyond, LimitExceeded.
    admission_counts_slots: bool = True
    admission_autoscaled_slots: dict[str, int] = Field(
        default_factory=lambda: dict.fromkeys(POOLS, 0)
    )
    # A worker's advert of its slots lives this long unless renewed (every Celery heartbeat,
    # ~2 s): a dead worker stops counting within it.
    slot_advert_ttl_s: float = Field(default=15.0, gt=2)
    # An optional hard ceiling of active tasks per service (0: none), slots or not.
    max_active_tasks: dict[str, int] = Field(default_factory=lambda: dict.fromkeys(POOLS, 0))
    min_free_disk_mb: int = 512

    # Uploads of the final files: retried with exponential backoff for this long.
    upload_retry_window_s: float = 600.0

    # Callbacks: retried with exponential backoff for this long.
    callback_timeout_s: float = 5.0
    callback_retry_window_s: float = 600.0
    callback_first_backoff_s: float = 1.0
    callback_secret: str = ""

    # Pipelines.
    ffmpeg: str = "ffmpeg"
    ffprobe: str = "ffprobe"
    chromium: str = "/usr/bin/chromium"
    manual_start_timeout_s: float = 120.0
    # panorama: browser stacks each worker keeps ready (display, audio sink, page proxy,
    # Chromium, at the default frame size), so that a Start only opens its page; each is
    # used by one task and replaced in the background. 0: every Start builds its own.
    panorama_warm_slots: int = Field(default=1, ge=0, le=8)
    # panorama: x264's preset and CRF for the page's picture (and the live pause filler).
    # The defaults are what `bench.panorama --only density` measured as the cheapest at the
    # picture quality of the bare pipeline (README, "Recordings per machine").
    panorama_x264_preset: X264Preset = "ultrafast"
    panorama_x264_crf: int = Field(default=23, ge=0, le=51)
    page_load_timeout_s: float = 30.0
    max_idle_s: float = 300.0
    stall_timeout_s: float = 30.0
    # pusher: files a videoSrc may name by a relative path (default: data_dir/media).
    media_dir: Path | None = None
    # pusher: how long a push may take to start flowing (probe, connect, first packets).
    push_start_timeout_s: float = 20.0
    # pusher: how long a push's resume position (redis: true) is kept after its last write.
    push_progress_ttl_s: int = 30 * 24 * 3600
    # Recorder: a pull that reads nothing for this long ends (the user left the room);
    # while the user is away, the pull is retried with a backoff capped at retry_max.
    recorder_rw_timeout_s: float = Field(default=3.0, gt=0)
    recorder_retry_max_s: float = Field(default=1.0, gt=0)

    # How long finished task records stay in Redis.
    record_ttl_s: int = 7 * 24 * 3600

    @field_validator("url_allowlist", "redis_host_allowlist")
    @classmethod
    def _networks_parse(cls, value: list[str]) -> list[str]:
        for item in value:
            ipaddress.ip_network(item, strict=False)
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url_parses(cls, value: str) -> str:
        redis_url.parse(value)
        return value

    @field_validator("secret_key")
    @classmethod
    def _fernet_keys(cls, value: str) -> str:
        for position, key in enumerate(_split_keys(value), start=1):
            if not _is_fernet_key(key):
                raise ValueError(
                    f"key {position} is not a Fernet key (32 url-safe "
                    "base64 bytes); make one with: python3 -c 'from cryptography.fernet "
                    "import Fernet; print(Fernet.generate_key().decode())'"
                )
        return value

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if not is_loopback(self.host) and not self.app_keys:
            raise ValueError(
                f"CAPSTAN_HOST={self.host} is not loopback: set CAPSTAN_APP_KEYS "
                '(e.g. {"mykey": "a-long-secret"}) so that requests are signed'
            )
        if not self.on_loopback and not self.secret_keys:
            raise ValueError(
                f"the farm is not on loopback (CAPSTAN_HOST={self.host}, Redis at "
                f"{self.redis_host}): set CAPSTAN_SECRET_KEY, the same Fernet key on every "
                "machine, so that each one opens the secrets another sealed; make one with: "
                "python3 -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'"
            )
        if self.storage == "s3" and not self.s3_bucket:
            raise ValueError("CAPSTAN_STORAGE=s3 needs CAPSTAN_S3_BUCKET")
        return self

    @property
    def secret_keys(self) -> list[str]:
        return _split_keys(self.secret_key)

    @property
    def redis(self) -> RedisTarget:
        return redis_url.parse(self.redis_url)

    @property
    def redis_host(self) -> str:
        """Redis's host name or address (the first sentinel's); "localhost" for a socket."""
        return self.redis.hosts[0]

    @property
    def on_loopback(self) -> bool:
        """One machine: the dispatcher listens on loopback and Redis is on this machine."""
        return is_loopback(self.host) and all(is_loopback(h) for h in self.redis.hosts)

    @property
    def start_replicas(self) -> int:
        """Replicas a Start waits for (WAIT); 0: none, answer once the master has it."""
        if self.redis_min_replicas is not None:
            return self.redis_min_replicas
        return 1 if self.redis.is_sentinel else 0

    def redis_db_url(self, db: int) -> str:
        return redis_url.with_db(self.redis_url, db)

    @property
    def broker_url(self) -> str:
        return self.redis_db_url(self.broker_db)

    @property
    def result_url(self) -> str:
        return self.redis_db_url(self.result_db)

    @property
    def store_url(self) -> str:
        return self.redis_db_url(self.store_db)

    @property
    def pull_template(self) -> str:
        preset = ROOM_TEMPLATES[self.room_backend][0].replace("{RtmpPort}", str(self.rtmp_port))
        return self.room_pull_template or preset

    @property
    def push_template(self) -> str:
        preset = ROOM_TEMPLATES[self.room_backend][1].replace("{RtmpPort}", str(self.rtmp_port))
        return self.room_push_template or preset

    @property
    def segments_dir(self) -> Path:
        return self.intermediate_dir or self.data_dir / "segments"

    @property
    def intermediate_in_s3(self) -> bool:
        if self.intermediate_storage == "auto":
            return self.storage == "s3"
        return self.intermediate_storage == "s3"

    @property
    def media_root(self) -> Path:
        return self.media_dir or self.data_dir / "media"

    @property
    def output_dir(self) -> Path:
        return self.data_dir / "output"

    @property
    def work_dir(self) -> Path:
        return self.data_dir / "work"


def is_loopback(host: str) -> bool:
    """An address of this machine only (no DNS: a name other than localhost is not)."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _split_keys(value: str) -> list[str]:
    return [key.strip() for key in value.split(",") if key.strip()]


def _is_fernet_key(key: str) -> bool:
    try:
        Fernet(key.encode())
    except ValueError:  # binascii.Error is one too
        return False
    return True


class SettingsError(ValueError):
    """The farm's settings are wrong: one line per problem, each naming its setting."""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The farm's settings; every role (dispatcher, pools, reconciler) reads them at start-up,
    so a wrong one stops it with SettingsError's lines (never a setting's value)."""
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors(include_input=False, include_url=False):
        message = error["msg"].removeprefix("Value error, ")
        loc = error["loc"]
        lines.append(f"CAPSTAN_{str(loc[0]).upper()}: {message}" if loc else message)
    return "wrong settings:\n  " + "\n  ".join(lines)


def reset_settings() -> None:
    """Forget the cached Settings (tests change the environment)."""
    get_settings.cache_clear()
