"""What the farm's Chromium is told so that real pages draw as they would for a viewer:
WebGL on SwiftShader without a GPU, no "Translate this page?" bubble over the page, and
frames drawn at the capture's rate.
(tests/integration/test_page_kinds.py records such pages.)"""

from __future__ import annotations

import json

from workers.panorama import builders
from workers.panorama.browser import write_profile
from workers.panorama.builders import Frame


def test_webgl_runs_on_swiftshader_with_software_compositing():
    args = builders.chromium_args(Frame(800, 600), "http://127.0.0.1:3128")
    assert "--disable-gpu" in args  # composite in software: the cheapest without a GPU
    assert "--enable-unsafe-swiftshader" in args  # else Chromium 156 gives pages no WebGL


def test_a_new_profile_starts_with_translation_off(tmp_path):
    write_profile(tmp_path)
    prefs = json.loads((tmp_path / "Default" / "Preferences").read_text())
    assert prefs["translate"]["enabled"] is False


def test_a_profile_chromium_already_used_is_left_alone(tmp_path):
    used = tmp_path / "Default" / "Preferences"
    used.parent.mkdir()
    used.write_text('{"translate": {"enabled": false}, "session": {"restore_on_startup": 1}}')
    write_profile(tmp_path)
    assert "restore_on_startup" in used.read_text()


def test_a_new_profile_has_energy_saver_on(tmp_path):
    # Chromium then throttles its frames to 30 a second, the grab's rate (the interval it
    # draws at is measured in tests/integration/test_panorama_sync.py)
    write_profile(tmp_path)
    local_state = json.loads((tmp_path / "Local State").read_text())
    assert local_state["performance_tuning"]["battery_saver_mode"]["state"] == 3
