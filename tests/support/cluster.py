"""A farm spread over hosts that share no disk (tests/support/hosts.py): one host runs
Redis, the S3 endpoint (moto) and the RTMP room server; every other host runs its own
dispatcher and a worker of every pool, with its own data directory. What they share is
what a cluster shares: Redis, the bucket, the secret key and the app keys.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import requests
from cryptography.fernet import Fernet

from config.settings import SERVICES
from deploy.local import stack
from deploy.local.process import Child
from deploy.local.stack import Command, Ready
from tests.support.api import HttpClient
from tests.support.chaos import FAST
from tests.support.farm import with_venv_path
from tests.support.hosts import Host, Network

REDIS_PORT, S3_PORT, RTMP_PORT, DISPATCHER_PORT = 6379, 9000, 1935, 8080
BUCKET = "capstan"
APP_KEY, APP_SECRET = "chaos", "a-long-secret-for-the-multi-host-test"
S3_KEYS = {"CAPSTAN_S3_ACCESS_KEY": "testing", "CAPSTAN_S3_SECRET_KEY": "testing"}
CONCURRENCY = {"recorder": 2, "pusher": 2, "panorama": 1}


class Cluster:
    def __init__(self, network: Network, log_dir: Path) -> None:
        self.network = network
        self.log_dir = log_dir
        self.services = network.hosts["s"]
        self.secret_key = Fernet.generate_key().decode()
        self._hostname = socket.gethostname()  # one UTS namespace: Celery's %h everywhere

    @property
    def redis_url(self) -> str:
        return f"redis://{self.services.address}:{REDIS_PORT}"

    @property
    def s3_endpoint(self) -> str:
        return f"http://{self.services.address}:{S3_PORT}"

    def room_url(self, stream: str) -> str:
        return f"rtmp://{self.services.address}:{RTMP_PORT}/live/{stream}"

    def env(self, host: Host) -> dict[str, str]:
        """The CAPSTAN_* settings of one host: the cluster's shared ones, its own address
        and data directory."""
        template = self.room_url(stack.ROOM_STREAM)
        own = {
            "CAPSTAN_REDIS_URL": self.redis_url,
            "CAPSTAN_DATA_DIR": str(host.data_dir),
            "CAPSTAN_HOST": host.address,
            "CAPSTAN_PORT": str(DISPATCHER_PORT),
            "CAPSTAN_PUBLIC_URL": f"http://{host.address}:{DISPATCHER_PORT}",
            "CAPSTAN_APP_KEYS": json.dumps({APP_KEY: APP_SECRET}),
            "CAPSTAN_SECRET_KEY": self.secret_key,
            "CAPSTAN_STORAGE": "s3",  # and so, intermediate storage too
            "CAPSTAN_S3_ENDPOINT_URL": self.s3_endpoint,
            "CAPSTAN_S3_BUCKET": BUCKET,
            **S3_KEYS,
            "CAPSTAN_ROOM_BACKEND": "rtmp",
            "CAPSTAN_ROOM_PULL_TEMPLATE": template,
            "CAPSTAN_ROOM_PUSH_TEMPLATE": template,
            "CAPSTAN_URL_ALLOWLIST": json.dumps([self.network.subnet]),
            "CAPSTAN_REDIS_HOST_ALLOWLIST": json.dumps([self.network.subnet]),
            "PYTHONUNBUFFERED": "1",
            **FAST,
        }
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("CAPSTAN_")}
        return with_venv_path({**inherited, **own})

    def log(self, host: Host, name: str) -> Path:
        return self.log_dir / f"{host.name}-{name}.log"

    # ---- the services host -----------------------------------------------------------

    def start_services(self) -> None:
        host, address = self.services, self.services.address
        env = self.env(host)
        redis_dir = host.data_dir / "redis"
        redis_dir.mkdir(parents=True, exist_ok=True)
        nginx_dir = host.data_dir / "nginx"
        nginx_dir.mkdir(parents=True, exist_ok=True)
        conf = nginx_dir / "nginx.conf"
        conf.write_text(stack.nginx_conf(RTMP_PORT, nginx_dir, host=address))
        moto = [sys.executable, "-m", "moto.server", "-H", address, "-p", str(S3_PORT)]
        redis = stack.redis_command(REDIS_PORT, redis_dir, host=address)
        # Other hosts connect without a password: on the test's own bridge, that is fine.
        redis.argv.extend(["--protected-mode", "no"])
        commands = [
            redis,
            Command("moto", moto, Ready("http", f"{self.s3_endpoint}/moto-api/")),
            stack.nginx_command(conf, nginx_dir, RTMP_PORT, host=address),
        ]
        self._start_all(host, commands, env)
        self._s3().create_bucket(Bucket=BUCKET)
        schedule = host.data_dir / "celerybeat-schedule"
        reconciler = stack.reconciler_command(self._broker, self._hostname, schedule, "rec-s")
        host.start(reconciler, self.log(host, "reconciler"), env)

    # ---- a farm host -----------------------------------------------------------------

    def start_farm(self, name: str, pools: tuple[str, ...] = SERVICES) -> HttpClient:
        """A dispatcher and a worker of each pool on host ``name``; its dispatcher."""
        host = self.network.hosts[name]
        dispatcher = stack.dispatcher_command(DISPATCHER_PORT, host=host.address, workers=2)
        self._start_all(host, [dispatcher, *self._workers(name, pools)], self.env(host))
        return self.dispatcher(name)

    def start_workers(self, name: str, pools: tuple[str, ...]) -> None:
        host = self.network.hosts[name]
        self._start_all(host, self._workers(name, pools), self.env(host))

    def dispatcher(self, name: str) -> HttpClient:
        address = self.network.hosts[name].address
        # Off loopback, as a client with an app key reaches it: signed.
        return HttpClient(f"http://{address}:{DISPATCHER_PORT}", app_key=(APP_KEY, APP_SECRET))

    # ---- plumbing --------------------------------------------------------------------

    def _workers(self, name: str, pools: tuple[str, ...]) -> list[Command]:
        return [
            stack.worker_command(
                pool, CONCURRENCY[pool], self._broker, self._hostname, f"{pool}-{name}"
            )
            for pool in pools
        ]

    @property
    def _broker(self) -> str:
        return f"{self.redis_url}/0"

    def _start_all(self, host: Host, commands: list[Command], env: dict[str, str]) -> None:
        """Start them together, then wait for each: a 2-core machine starts them faster."""
        started: list[Child] = [
            host.start(command, self.log(host, command.name), env, wait=False)
            for command in commands
        ]
        for child in started:
            child.wait_ready(120)

    def _s3(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.s3_endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )

    def download(self, url: str, into: Path) -> Path:
        """A FileURL, fetched as a client would: a plain URL of the (private) bucket with
        the bucket's keys, any other (a public domain, a redirect) with a GET."""
        into.parent.mkdir(parents=True, exist_ok=True)
        bucket_url = f"{self.s3_endpoint}/{BUCKET}/"
        if url.startswith(bucket_url):
            key = unquote(url.removeprefix(bucket_url))
            self._s3().download_file(BUCKET, key, str(into))
            return into
        with requests.get(url, timeout=60, stream=True) as answer:
            answer.raise_for_status()
            with into.open("wb") as out:
                for chunk in answer.iter_content(1 << 20):
                    out.write(chunk)
        return into
