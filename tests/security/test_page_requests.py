"""The URL policy (SSRF) for the recorded page's own requests, with a real Chromium.

Two local servers: the page's (127.0.0.1, allowlisted) and an "inside" one (127.0.0.2:
loopback too, since the whole 127/8 answers on Linux, but not allowlisted). The page
probes the inside server three ways, an image, a fetch() and an image behind a redirect
from its own server, and paints one column per probe: green when it loaded, red when
it did not. Then it calls window.stopRecord(). The recording shows the colours.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from config.settings import get_settings
from tests.support import media
from tests.support.api import local_file
from tests.support.panorama_helpers import GREEN, RED, PanoramaApi, close_to, region_rgb
from tests.support.tools import require_browser_stack
from workers.common.runtime.loop import run_task
from workers.panorama.session import PanoramaSession

pytestmark = pytest.mark.integration

WIDTH, HEIGHT = 360, 120
SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4">'
    b'<rect width="4" height="4" fill="#0f0"/></svg>'
)
PROBE_PAGE = """<!doctype html>
<html><head><style>
  html, body { margin: 0; height: 100%; background: #000; }
  body { display: flex; }
  div { flex: 1; }
</style></head>
<body><div id="image"></div><div id="fetch"></div><div id="redirect"></div>
<script>
  const inside = new URLSearchParams(location.search).get("inside");
  const paint = (id, ok) => {
    document.getElementById(id).style.background = ok ? "#00ff00" : "#ff0000";
  };
  const image = (src) => new Promise((done) => {
    const img = new Image();
    img.onload = () => done(true);
    img.onerror = () => done(false);
    img.src = src;
  });
  const fetched = fetch(inside + "/data")
    .then(async (r) => r.ok && (await r.text()) === "inside")
    .catch(() => false);
  const probes = [
    image(inside + "/green.svg").then((ok) => paint("image", ok)),
    fetched.then((ok) => paint("fetch", ok)),
    image("/redirect?to=" + encodeURIComponent(inside + "/green.svg"))
      .then((ok) => paint("redirect", ok)),
  ];
  Promise.all(probes).then(() => setTimeout(() => window.stopRecord(), 3000));
</script></body></html>
"""


class Site:
    """One origin: the probe page, a redirect, and the 'inside' resources (with CORS)."""

    def __init__(self, host: str) -> None:
        self.paths: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: object) -> None:
                pass

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                outer.paths.append(url.path)
                if url.path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", parse_qs(url.query)["to"][0])
                    self._end(b"", "text/plain")
                elif url.path == "/green.svg":
                    self._ok(SVG, "image/svg+xml")
                elif url.path == "/data":
                    self._ok(b"inside", "text/plain")
                else:
                    self._ok(PROBE_PAGE.encode(), "text/html")

            def _ok(self, body: bytes, kind: str) -> None:
                self.send_response(200)
                self._end(body, kind)

            def _end(self, body: bytes, kind: str) -> None:
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Access-Control-Allow-Origin", "*")
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.url = f"http://{host}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sites() -> Iterator[tuple[Site, Site]]:
    page, inside = Site("127.0.0.1"), Site("127.0.0.2")
    yield page, inside
    page.close()
    inside.close()


@pytest.fixture
def allowlist() -> list[str]:
    """CAPSTAN_URL_ALLOWLIST: the page's own address only (a test may parametrize it)."""
    return ["127.0.0.1/32"]


@pytest.fixture
def page_env(capstan_env_vars, allowlist):
    capstan_env_vars.update(
        CAPSTAN_URL_ALLOWLIST=json.dumps(allowlist),
        CAPSTAN_SEGMENT_SECONDS="2",
        CAPSTAN_PAGE_LOAD_TIMEOUT_S="10",
    )


@pytest.fixture
def record(page_env, capstan_env):
    """record(url) -> the finished task's Describe (run in-process: no Celery needed)."""
    require_browser_stack()
    from dispatcher.app import create_app

    api = PanoramaApi(create_app().test_client())

    def run(url: str) -> dict:
        task_id = api.start(RecordURL=url, Width=WIDTH, Height=HEIGHT, MaxDurationLimit=30)
        run_task(task_id, PanoramaSession)
        return api.describe(task_id)

    return run


def last_frame_columns(done: dict) -> list[tuple[float, float, float]]:
    """The average colour of each probe's column, a second before the recording's end."""
    (video,) = done["Result"]["Videos"]
    path = local_file(get_settings(), video["FileURL"])
    at, third = media.probe(path)["duration"] - 1.0, WIDTH // 3
    return [region_rgb(path, at, i * third + 10, 10, third - 20, HEIGHT - 20) for i in range(3)]


def test_the_page_cannot_reach_an_address_outside_the_allowlist(record, sites):
    # Given a page on an allowlisted address probing one that is not
    page, inside = sites

    # When it is recorded
    done = record(f"{page.url}/probe.html?inside={inside.url}")

    # Then the recording goes on (the page ends it) and shows every probe failed
    assert done["Status"] == "finished"
    assert "ErrorCode" not in done["Result"], done
    shown = last_frame_columns(done)
    assert all(close_to(rgb, RED) for rgb in shown), shown
    # and nothing reached the inside server, and Describe counts the refused requests
    assert inside.paths == []
    assert done["Progress"]["BlockedRequests"] >= 3, done["Progress"]
    assert "/redirect" in page.paths  # the redirect's first hop was allowed


@pytest.mark.parametrize("allowlist", [["127.0.0.1/32", "127.0.0.2/32"]])
def test_the_same_page_loads_it_once_the_address_is_allowlisted(record, sites):
    # Given the same page, with the inside address allowlisted
    page, inside = sites
    # When it is recorded, then every probe loaded and nothing was refused
    done = record(f"{page.url}/probe.html?inside={inside.url}")
    assert "ErrorCode" not in done["Result"], done
    shown = last_frame_columns(done)
    assert all(close_to(rgb, GREEN) for rgb in shown), shown
    assert sorted(inside.paths) == ["/data", "/green.svg", "/green.svg"]
    assert done["Progress"]["BlockedRequests"] == 0


def test_a_record_url_redirected_inside_is_page_load_failed(record, sites):
    # Given a RecordURL on an allowed address that redirects to one that is not
    page, inside = sites
    # When it is recorded, then the start fails with the policy's reason
    url = f"{page.url}/redirect?to={inside.url}/probe.html"
    done = record(url)
    assert done["Result"]["ErrorCode"] == "PageLoadFailed", done
    assert "loopback" in done["Result"]["ErrorMessage"]
    assert inside.paths == []
