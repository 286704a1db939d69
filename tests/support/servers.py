"""Real servers on free ports for the tests: Redis, the RTMP room server, S3 (moto).

Started with the command lines of deploy.local.stack, as `make run` starts them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import redis

from deploy.local import stack
from deploy.local.process import Child
from deploy.local.stack import Command, Ready
from tests.support.tools import free_port, wait_until


class Server:
    """A Child with a fixed command: start, stop, restart on the same port."""

    def __init__(self, command: Command, log: Path) -> None:
        self.command = command
        self.log = log
        self.child: Child | None = None

    def start(self, timeout: float = 30.0) -> None:
        self.child = Child(self.command, self.log).start()
        self.child.wait_ready(timeout)

    def stop(self, hard: bool = False, grace: float = 10.0) -> None:
        if self.child is None:
            return
        if hard:
            self.child.kill()
            self.child.close()
        else:
            self.child.stop(grace)
        self.child = None

    def restart(self, hard: bool = False) -> None:
        self.stop(hard=hard)
        self.start()

    @property
    def running(self) -> bool:
        return self.child is not None and self.child.alive()


class RedisServer(Server):
    """redis-server with AOF in its own directory; restart() keeps the data.
    replica_of / password: a member of a Sentinel group (SentinelGroup)."""

    def __init__(
        self,
        directory: Path,
        log_dir: Path,
        port: int | None = None,
        name: str = "redis",
        replica_of: int | None = None,
        password: str = "",
    ) -> None:
        self.port = port or free_port()
        self.dir = directory
        self.password = password
        directory.mkdir(parents=True, exist_ok=True)
        master = (stack.HOST, replica_of) if replica_of else None
        command = stack.redis_command(self.port, directory, replica_of=master, password=password)
        super().__init__(command, log_dir / f"{name}.log")

    def start(self, timeout: float = 30.0) -> None:
        super().start(timeout)
        if self.password:  # ready: answers an authenticated PING
            wait_until(self._pings, timeout, 0.1, f"redis on {self.port}")

    def _pings(self) -> bool:
        try:
            with self.client() as conn:
                return bool(conn.ping())
        except redis.RedisError:
            return False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def client(self, db: int = 0) -> redis.Redis:
        return redis.Redis(
            port=self.port, db=db, password=self.password or None, decode_responses=True
        )

    def in_sync(self) -> bool:
        """A replica whose link to its master is up (the initial sync done)."""
        with self.client() as conn:
            return conn.info("replication").get("master_link_status") == "up"

    def wait_in_sync(self, timeout: float = 30.0) -> None:
        wait_until(self.in_sync, timeout, 0.1, f"redis on {self.port} in sync with its master")

    def flush(self, *dbs: int) -> None:
        for db in dbs or (0, 1, 2):
            with self.client(db) as conn:
                conn.flushdb()


class RtmpServer(Server):
    """nginx with the RTMP module: rtmp://127.0.0.1:<port>/live/<stream>."""

    def __init__(self, directory: Path, log_dir: Path) -> None:
        self.port = free_port()
        directory.mkdir(parents=True, exist_ok=True)
        conf = directory / "nginx.conf"
        conf.write_text(stack.nginx_conf(self.port, directory))
        command = stack.nginx_command(conf, directory, self.port)
        super().__init__(command, log_dir / "nginx-rtmp.log")

    def url(self, stream: str) -> str:
        return f"rtmp://127.0.0.1:{self.port}/live/{stream}"

    @property
    def template(self) -> str:
        """The room URL template pointing at this server."""
        return f"rtmp://127.0.0.1:{self.port}/live/{stack.ROOM_STREAM}"

    def streams(self, stream: str, timeout: float = 8.0) -> list[dict[str, Any]]:
        """The streams someone publishes under this name (ffprobe); [] when nobody does."""
        argv = ["ffprobe", "-v", "error", "-rw_timeout", str(int(timeout * 1e6)),
                "-show_entries", "stream=codec_type,codec_name,width,height,sample_rate",
                "-of", "json", self.url(stream)]  # fmt: skip
        try:
            done = subprocess.run(argv, capture_output=True, timeout=timeout + 2, check=False)
        except subprocess.TimeoutExpired:
            return []
        if done.returncode != 0:
            return []
        streams: list[dict[str, Any]] = json.loads(done.stdout or b"{}").get("streams", [])
        return streams

    def is_publishing(self, stream: str, timeout: float = 8.0) -> bool:
        return bool(self.streams(stream, timeout))

    def wait_published(self, stream: str, timeout: float = 20.0) -> list[dict[str, Any]]:
        found = wait_until(lambda: self.streams(stream), timeout, 0.2, f"stream {stream}")
        assert isinstance(found, list)
        return found


class S3Server(Server):
    """moto in server mode: a real S3 HTTP endpoint, dummy credentials, us-east-1."""

    access_key = "testing"
    secret_key = "testing"  # moto's dummy credentials
    region = "us-east-1"

    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]
        command = Command("moto", argv, Ready("http", f"{self.endpoint}/moto-api/"))
        super().__init__(command, log_dir / "moto.log")

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
        )

    def make_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name

    def reset(self) -> None:
        """Forget every bucket (moto's own reset endpoint)."""
        import requests

        requests.post(f"{self.endpoint}/moto-api/reset", timeout=10).raise_for_status()

    def env(self) -> dict[str, str]:
        """CAPSTAN_S3_* settings pointing at this server (storage stays as configured)."""
        return {
            "CAPSTAN_S3_ENDPOINT_URL": self.endpoint,
            "CAPSTAN_S3_REGION": self.region,
            "CAPSTAN_S3_ACCESS_KEY": self.access_key,
            "CAPSTAN_S3_SECRET_KEY": self.secret_key,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
        }


class SentinelGroup:
    """A Redis master, its replica and three sentinels (Debian's redis-server and
    redis-sentinel) on free ports, each with a password: what CAPSTAN_REDIS_URL names
    with sentinel:// URLs. kill_master() is a crash; a sentinel then promotes the replica."""

    master_name = "capstan"
    password = "redis-pw-never-logged"  # the master's and the replica's (test only)
    sentinel_password = "sentinel-pw-never-logged"

    def __init__(self, directory: Path, log_dir: Path, down_after_ms: int = 1000) -> None:
        self.master = RedisServer(
            directory / "master", log_dir, name="redis-master", password=self.password
        )
        self.replica = RedisServer(
            directory / "replica",
            log_dir,
            name="redis-replica",
            replica_of=self.master.port,
            password=self.password,
        )
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.sentinels = []
        for port in self.sentinel_ports:
            where = directory / f"sentinel-{port}"
            where.mkdir(parents=True, exist_ok=True)
            conf = where / "sentinel.conf"
            text = stack.sentinel_conf(
                port,
                (stack.HOST, self.master.port),
                where,
                master_name=self.master_name,
                down_after_ms=down_after_ms,
                master_password=self.password,
                password=self.sentinel_password,
            )
            conf.write_text(text)
            conf.chmod(0o600)
            command = stack.sentinel_command(conf, port)
            self.sentinels.append(Server(command, log_dir / f"sentinel-{port}.log"))

    def start(self, timeout: float = 30.0) -> None:
        self.master.start(timeout)
        self.replica.start(timeout)
        self.replica.wait_in_sync(timeout)
        for sentinel in self.sentinels:
            sentinel.start(timeout)
        # Sentinels find each other and the replica through the master: wait for it, or a
        # failover would find no quorum.
        wait_until(self._sentinels_agree, timeout, 0.2, "three sentinels that know the replica")

    def stop(self) -> None:
        for server in (*self.sentinels, self.replica, self.master):
            server.stop(hard=True)

    @property
    def url(self) -> str:
        """CAPSTAN_REDIS_URL: every sentinel, the first carrying the master's password."""
        ports = self.sentinel_ports
        first = f"sentinel://:{self.password}@127.0.0.1:{ports[0]}"
        return ";".join([first, *(f"sentinel://127.0.0.1:{port}" for port in ports[1:])])

    def env(self) -> dict[str, str]:
        return {
            "CAPSTAN_REDIS_URL": self.url,
            "CAPSTAN_REDIS_MASTER_NAME": self.master_name,
            "CAPSTAN_REDIS_SENTINEL_PASSWORD": self.sentinel_password,
        }

    def sentinel_client(self, port: int) -> redis.Redis:
        return redis.Redis(
            port=port, password=self.sentinel_password, decode_responses=True, socket_timeout=1
        )

    def master_port(self) -> int | None:
        """The master's port, as the first sentinel that answers says."""
        for port in self.sentinel_ports:
            try:
                with self.sentinel_client(port) as conn:
                    address = conn.sentinel_get_master_addr_by_name(self.master_name)
                return int(address[1]) if address else None
            except redis.RedisError:
                continue
        return None

    def kill_master(self) -> None:
        self.master.stop(hard=True)

    def revive_old_master(self, timeout: float = 30.0) -> None:
        """Start the killed master again, as an orchestrator would: the sentinels make it a
        replica of the new master; returns once it is in sync (the group has a replica)."""
        self.master.start(timeout)
        self.master.wait_in_sync(timeout)  # a replica now

    def _sentinels_agree(self) -> bool:
        for port in self.sentinel_ports:
            with self.sentinel_client(port) as conn:
                fields = conn.sentinel_master(self.master_name)
                if int(fields["num-other-sentinels"]) < 2 or int(fields["num-slaves"]) < 1:
                    return False
        return True
