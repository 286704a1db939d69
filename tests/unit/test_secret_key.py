"""Secrets every machine of the farm can open, key rotation, and the refusal to start
off loopback without CAPSTAN_SECRET_KEY."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from config.settings import SettingsError, get_settings, reset_settings
from workers.common.domain import crypto

ROOT = Path(__file__).resolve().parents[2]
NEW, OLD, OTHER = (Fernet.generate_key().decode() for _ in range(3))
SECRETS = {"SecretKey": "bucket-s3cret"}


@pytest.fixture
def machine(monkeypatch, tmp_path):
    """machine(**env): this process becomes a farm machine with these CAPSTAN_* settings."""

    def become(**env: str) -> None:
        for key in list(os.environ):
            if key.startswith("CAPSTAN_"):
                monkeypatch.delenv(key)
        monkeypatch.setenv("CAPSTAN_DATA_DIR", str(tmp_path / "data"))
        for key, value in env.items():
            monkeypatch.setenv(f"CAPSTAN_{key.upper()}", value)
        reset_settings()
        crypto.forget_key()

    yield become
    reset_settings()
    crypto.forget_key()


def test_a_machine_with_the_same_key_opens_what_another_sealed(machine):
    machine(secret_key=NEW)
    token = crypto.seal(SECRETS)
    machine(secret_key=NEW, data_dir="/nonexistent/other-disk")
    assert crypto.unseal(token) == SECRETS


def test_after_a_rotation_the_old_key_still_opens_and_the_new_one_seals(machine):
    machine(secret_key=OLD)
    sealed_before = crypto.seal(SECRETS)
    machine(secret_key=f"{NEW}, {OLD}")
    sealed_after = crypto.seal(SECRETS)
    assert crypto.unseal(sealed_before) == SECRETS
    machine(secret_key=NEW)  # the old key retired: what was sealed after still opens
    assert crypto.unseal(sealed_after) == SECRETS


def test_secrets_sealed_with_another_key_are_a_clear_task_failure(machine):
    machine(secret_key=OTHER)
    token = crypto.seal(SECRETS)
    machine(secret_key=NEW)
    with pytest.raises(crypto.SecretsUnreadable) as failure:
        crypto.unseal(token)
    assert failure.value.code == "SecretsUnreadable"
    assert "CAPSTAN_SECRET_KEY" in failure.value.message


def test_one_machine_on_loopback_runs_without_a_key(machine, tmp_path):
    machine(host="127.0.0.1", redis_url="redis://127.0.0.1:6379")
    assert crypto.unseal(crypto.seal(SECRETS)) == SECRETS
    assert (tmp_path / "data" / "secret.key").exists()


@pytest.mark.parametrize(
    "env",
    [
        {"redis_url": "redis://redis.capstan.svc:6379"},
        {"redis_url": "redis://:pw@10.0.0.5:6379/0"},
        {"host": "0.0.0.0", "app_keys": '{"k": "app-s3cret"}'},
    ],
)
def test_a_farm_off_loopback_refuses_to_start_without_a_key(machine, env):
    machine(**env, s3_secret_key="bucket-s3cret")
    with pytest.raises(SettingsError) as refused:
        get_settings()
    assert "set CAPSTAN_SECRET_KEY" in str(refused.value)
    assert "s3cret" not in str(refused.value)


def test_a_key_that_is_not_a_fernet_key_is_named_by_position_not_value(machine):
    machine(secret_key=f"{NEW},not-a-key-s3cret")
    with pytest.raises(SettingsError) as refused:
        get_settings()
    assert "CAPSTAN_SECRET_KEY: key 2 is not a Fernet key" in str(refused.value)
    assert "s3cret" not in str(refused.value)


@pytest.mark.parametrize(
    "role",
    [
        ["celery", "-A", "config.celery", "worker", "-Q", "recorder"],
        ["celery", "-A", "config.celery", "worker", "-Q", "reconciler", "--beat"],
        ["python", "-m", "dispatcher.serve"],
    ],
    ids=["worker", "reconciler", "dispatcher"],
)
def test_every_role_stops_at_start_up_naming_the_setting(role, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAPSTAN_")}
    env |= {
        "CAPSTAN_REDIS_URL": "redis://redis.capstan.svc:6379",
        "CAPSTAN_DATA_DIR": str(tmp_path),
    }
    bindir = os.path.dirname(sys.executable)
    argv = [os.path.join(bindir, role[0]), *role[1:]]
    started = subprocess.run(
        argv, check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert started.returncode != 0
    assert "set CAPSTAN_SECRET_KEY" in started.stderr + started.stdout
