"""The chart's room backends: a farm of Janus rooms gets its backend and Janus's address as
settings, and Janus's admin key and room secret from the Secret, never in the ConfigMap."""

from tests.support.helm import by_kind, containers, render


def test_a_janus_farm_reads_its_keys_from_the_secret_and_its_url_from_the_settings():
    manifests = render(
        "--set", "settings.room_backend=janus,settings.janus_url=http://sfu:8088/janus",
        "--set", "secrets.janusAdminKey=admin-k-1,secrets.janusRoomSecret=room-s-2",
    )  # fmt: skip
    (settings,) = by_kind(manifests, "ConfigMap").values()
    assert settings["data"]["CAPSTAN_ROOM_BACKEND"] == "janus"
    assert settings["data"]["CAPSTAN_JANUS_URL"] == "http://sfu:8088/janus"
    assert "admin-k-1" not in str(settings) and "room-s-2" not in str(settings)
    (secret,) = by_kind(manifests, "Secret").values()
    assert secret["stringData"]["janus-admin-key"] == "admin-k-1"
    assert secret["stringData"]["janus-room-secret"] == "room-s-2"
    pools = {"capstan-recorder", "capstan-pusher"}
    seen = set()
    for workload, container in containers(manifests):
        env = {e["name"]: e for e in container.get("env", [])}
        if workload["metadata"]["name"] in pools:
            ref = env["CAPSTAN_JANUS_ADMIN_KEY"]["valueFrom"]["secretKeyRef"]
            assert ref["key"] == "janus-admin-key" and ref["name"] == secret["metadata"]["name"]
            # Janus forwards a recorded user's RTP to the pod itself, not to its own loopback.
            pod_ip = env["CAPSTAN_JANUS_FORWARD_HOST"]["valueFrom"]["fieldRef"]["fieldPath"]
            assert pod_ip == "status.podIP"
            seen.add(workload["metadata"]["name"])
    assert seen == pools


def test_by_default_rooms_are_rtmp_and_no_janus_key_is_stored():
    manifests = render()
    (settings,) = by_kind(manifests, "ConfigMap").values()
    assert settings["data"]["CAPSTAN_ROOM_BACKEND"] == "rtmp"
    (secret,) = by_kind(manifests, "Secret").values()
    assert "janus-admin-key" not in secret["stringData"]
