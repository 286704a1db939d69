"""The task page (/ui/) in real headless Chromium (Playwright, the system's Chromium):
a started task shows up, its state changes without a reload, a finished recording plays.
Screenshots are kept in test-artifacts/.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from tests.support.panorama_helpers import PAGES, page_url
from tests.support.tools import REPO, require, require_browser_stack

pytestmark = pytest.mark.integration

ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PANORAMA_ENV = {"CAPSTAN_SEGMENT_SECONDS": "2", "CAPSTAN_PAGE_LOAD_TIMEOUT_S": "8"}
KEY_HEX = "21834cca41778803e1afba3f41e70c90"
LONG_MS = 180_000  # a recording on a busy machine: start, record, package


@pytest.fixture
def browser():
    chromium = require("chromium")
    require("python:playwright")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def ui(browser):
    """A fresh page, and every URL it requested."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.requested = []
    page.on("request", lambda request: page.requested.append(request.url))
    yield page
    context.close()


def start(farm_url: str, **data) -> str:
    answer = requests.post(f"{farm_url}/v1/panorama", json={"Action": "Start", "Data": data})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["TaskID"])


def status_cell(task_id: str) -> str:
    return f'#svc-panorama tr[data-task-id="{task_id}"] [data-status]'


def wait_status(page, task_id: str, status: str, timeout: float = LONG_MS) -> None:
    page.wait_for_selector(f'{status_cell(task_id)}[data-status="{status}"]', timeout=timeout)


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    return path


def plays(page, timeout: float = 60_000) -> float:
    """Start the player (muted, so no click is needed) until its clock moves."""
    page.wait_for_selector("#player", timeout=timeout)
    page.evaluate("document.getElementById('player').play().catch(() => {})")
    try:
        page.wait_for_function(
            "() => { const v = document.getElementById('player');"
            " if (v.paused && !v.ended) v.play().catch(() => {}); return v.currentTime > 0; }",
            timeout=timeout,
            polling=250,
        )
    except Exception as exc:
        raise AssertionError(f"the player does not play: {player_state(page)}") from exc
    return float(page.evaluate("document.getElementById('player').currentTime"))


def player_state(page) -> dict:
    return page.evaluate(
        "() => { const v = document.getElementById('player'); return {src: v.currentSrc,"
        " error: v.error && [v.error.code, v.error.message], network: v.networkState,"
        " ready: v.readyState, time: v.currentTime}; }"
    )


# ---- without a worker: the page, live updates, actions -------------------------------


def test_page_shows_a_started_task_and_follows_it_without_reload(farm_process, ui):
    farm = farm_process("dispatcher")

    # Given the task page open, and a panorama task started afterwards (no worker: "normal")
    ui.goto(f"{farm.url}/ui")
    ui.wait_for_selector("#svc-panorama")
    ui.evaluate("window.notReloaded = true")
    task_id = start(farm.url, RecordURL="http://127.0.0.1:9/page.html")

    # Then its row appears in the panorama table
    wait_status(ui, task_id, "normal", timeout=15_000)
    assert ui.locator("#svc-recorder tr[data-task-id]").count() == 0

    # When it is stopped from the page's detail panel
    ui.click(f'#svc-panorama tr[data-task-id="{task_id}"]')
    ui.click('#detail-actions button[data-action="Stop"]')

    # Then its state changes to canceled without a reload
    wait_status(ui, task_id, "canceled", timeout=15_000)
    assert ui.evaluate("window.notReloaded") is True
    assert requests.get(f"{farm.url}/v1/tasks/{task_id}").json()["Status"] == "canceled"

    # and the page loaded nothing from outside the farm
    assert ui.requested and all(url.startswith(farm.url + "/") for url in ui.requested), (
        ui.requested
    )
    screenshot(ui, "ui-canceled-task.png")


def test_signed_farm_asks_for_a_key_and_signs_the_calls(farm_process, ui):
    farm = farm_process("dispatcher", env={"CAPSTAN_APP_KEYS": json.dumps({"ui": "s3cret"})})
    task_id = start_signed(farm.url, "ui", "s3cret")

    # Given the page of a farm with app keys: the page loads, the API asks for a signature
    ui.goto(f"{farm.url}/ui/")
    ui.wait_for_selector("#signin:not([hidden])", timeout=15_000)
    assert "AuthFailure" in ui.inner_text("#error")

    # When the user gives the key and secret, Then the tasks show
    ui.fill("#key", "ui")
    ui.fill("#secret", "s3cret")
    ui.click("#signin button")
    wait_status(ui, task_id, "normal", timeout=15_000)
    assert ui.is_hidden("#error")


def start_signed(farm_url: str, key: str, secret: str) -> str:
    from workers.common.domain.signing import sign_request

    body = json.dumps({"Action": "Start", "Data": {"RecordURL": "http://127.0.0.1:9/"}}).encode()
    headers = {
        "Content-Type": "application/json",
        **sign_request("POST", "/v1/panorama", body, key, secret),
    }
    answer = requests.post(f"{farm_url}/v1/panorama", data=body, headers=headers)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["TaskID"])


# ---- with a panorama worker: a recording that finishes and plays ---------------------


@pytest.fixture
def recording_farm(farm_process, capstan_env_vars):
    require_browser_stack()
    capstan_env_vars.update(PANORAMA_ENV)
    dispatcher = farm_process("dispatcher")
    farm_process("panorama", concurrency=1)
    return dispatcher


def test_a_finished_mp4_plays_with_its_callback_attempts(
    recording_farm, ui, static_server, callback_receiver
):
    farm = recording_farm
    pages = static_server(PAGES)
    ui.goto(f"{farm.url}/ui/")
    ui.wait_for_selector("#svc-panorama")
    ui.evaluate("window.notReloaded = true")

    # Given a 4 s recording of a red page with a callback
    task_id = start(
        farm.url,
        RecordURL=page_url(pages.url, bg="ff0000", tone=440),
        Width=640,
        Height=360,
        MaxDurationLimit=4,
        CallbackURL=callback_receiver.url,
    )
    ui.click(f'#svc-panorama tr[data-task-id="{task_id}"]')

    # Then the page follows it from recording to finished, without a reload
    wait_status(ui, task_id, "recording")
    screenshot(ui, "ui-recording-task.png")
    wait_status(ui, task_id, "finished")
    assert ui.evaluate("window.notReloaded") is True

    # and the finished MP4 plays, and the callback attempt is listed
    assert plays(ui) > 0
    ui.wait_for_function(
        "() => document.querySelector('#callbacks tbody').innerText.includes('ok')",
        timeout=30_000,
    )
    assert ".mp4" in ui.inner_text("#detail-facts")
    time.sleep(0.5)  # a frame or two on screen for the screenshot
    screenshot(ui, "ui-finished-mp4.png")


def test_an_encrypted_hls_recording_plays_through_its_key_url(
    recording_farm, ui, static_server, request
):
    farm = recording_farm
    pages = static_server(PAGES)
    key_server = CorsKeyServer(bytes.fromhex(KEY_HEX))
    request.addfinalizer(key_server.close)

    # Given an AES-128 HLS recording whose key is served at its AuthUrl
    task_id = start(
        farm.url,
        RecordURL=page_url(pages.url, bg="0000ff"),
        Width=480,
        Height=272,
        MaxDurationLimit=4,
        Video={"Muxer": "hls", "EncryptKey": KEY_HEX, "AuthUrl": key_server.url},
    )
    ui.goto(f"{farm.url}/ui/")
    ui.click(f'#svc-panorama tr[data-task-id="{task_id}"]', timeout=15_000)
    wait_status(ui, task_id, "finished")

    # Then the page's player plays the playlist, fetching the key from the key URL (CORS)
    assert plays(ui) > 0
    assert ".m3u8" in ui.inner_text("#detail-facts")
    assert key_server.url in ui.requested
    screenshot(ui, "ui-finished-hls.png")


class CorsKeyServer:
    """A key server as web HLS players need it: GET /enc.key with Access-Control-Allow-Origin."""

    def __init__(self, key: bytes) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Access-Control-Allow-Origin", "*")
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(key)))
                self.end_headers()
                self.wfile.write(key)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/enc.key"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
