"""The page server and the default avatar file, without a browser."""

from __future__ import annotations

import json
import socket
import struct
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from vtuber.errors import ConfigError, SenderError
from vtuber.web.server import PageServer, default_avatar_bytes, validate_vrm


def _glb(doc: dict) -> bytes:
    js = json.dumps(doc).encode()
    js += b" " * (-len(js) % 4)
    return (
        struct.pack("<4sII", b"glTF", 2, 20 + len(js)) + struct.pack("<I4s", len(js), b"JSON") + js
    )


def _dist(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir(parents=True)
    (tmp_path / "index.html").write_text("<!doctype html><title>t</title>")
    (tmp_path / "assets" / "main.js").write_text("export {};")
    return tmp_path


def test_default_avatar_is_a_vrm1_with_every_bone_and_expression():
    from vtuber.retarget.skeleton import BONES

    data = default_avatar_bytes()
    assert data[:4] == b"glTF"
    (n,) = struct.unpack_from("<I", data, 12)
    doc = json.loads(data[20 : 20 + n])
    vrm = doc["extensions"]["VRMC_vrm"]
    assert vrm["specVersion"] == "1.0"
    assert vrm["meta"]["licenseUrl"] and vrm["meta"]["authors"]
    bones = vrm["humanoid"]["humanBones"]
    assert len(bones) == len(BONES) == 55
    assert {"leftThumbMetacarpal", "leftThumbProximal", "leftThumbDistal", "jaw", "leftEye"} <= set(
        bones
    )
    presets = vrm["expressions"]["preset"]
    for name in ("aa", "ih", "ou", "ee", "oh", "blink", "blinkLeft", "blinkRight", "happy", "angry", "sad",
                 "relaxed", "surprised", "lookUp", "lookDown", "lookLeft", "lookRight"):  # fmt: skip
        assert presets[name]["morphTargetBinds"], name
    assert vrm["lookAt"]["type"] == "bone"
    # glTF binary length fields agree with the file
    assert struct.unpack_from("<I", data, 8)[0] == len(data)


def test_make_default_avatar_cli_writes_the_file(tmp_path):
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "avatars" / "make_default_avatar.py"
    spec = importlib.util.spec_from_file_location("make_default_avatar_cli", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "a" / "default.vrm"
    assert module.main([str(out)]) == 0
    validate_vrm(out)


def test_validate_vrm_names_the_file_when_invalid(tmp_path):
    bad = tmp_path / "model.vrm"
    bad.write_bytes(b"not a model at all")
    with pytest.raises(ConfigError, match=r"model\.vrm.*not a valid VRM"):
        validate_vrm(bad)
    plain = tmp_path / "plain.glb"
    plain.write_bytes(_glb({"asset": {"version": "2.0"}}))
    with pytest.raises(ConfigError, match=r"plain\.glb.*without the VRMC_vrm"):
        validate_vrm(plain)
    with pytest.raises(ConfigError, match="missing.vrm"):
        validate_vrm(tmp_path / "missing.vrm")
    vrm0 = tmp_path / "old.vrm"
    vrm0.write_bytes(_glb({"asset": {"version": "2.0"}, "extensions": {"VRM": {}}}))
    assert validate_vrm(vrm0)[:4] == b"glTF"
    with pytest.raises(ConfigError) as info:
        PageServer(port=0, avatar_path=bad, dist_dir=_dist(tmp_path / "d0")).start()
    assert "\n" not in str(info.value)


def test_server_serves_page_avatar_and_config(tmp_path):
    user = tmp_path / "me.vrm"
    user.write_bytes(_glb({"asset": {"version": "2.0"}, "extensions": {"VRMC_vrm": {}}}))
    dist = _dist(tmp_path / "dist")
    with PageServer(
        port=0, avatar_path=user, ws_url="ws://127.0.0.1:9999", dist_dir=dist
    ) as server:
        get = lambda p: urllib.request.urlopen(server.url + p, timeout=5)
        assert b"<title>" in get("").read()
        r = get("assets/main.js")
        assert r.headers["Content-Type"].startswith("text/javascript")
        assert get("avatar.vrm").read() == user.read_bytes()
        assert json.loads(get("config.json").read()) == {"ws_url": "ws://127.0.0.1:9999"}
        with pytest.raises(urllib.error.HTTPError):
            get("../pyproject.toml")


def test_server_errors_are_one_line(tmp_path):
    with pytest.raises(SenderError, match="npm ci && npm run build"):
        PageServer(port=0, dist_dir=tmp_path / "nothing").start()
    dist = _dist(tmp_path / "dist")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(SenderError, match=f"127.0.0.1:{port}") as info:
            PageServer(port=port, dist_dir=dist).start()
        assert "\n" not in str(info.value)


def _request(server: PageServer, path: str, headers: dict[str, str] | None = None, host: str = "127.0.0.1"):
    """GET ``path`` from ``server`` with raw headers (urllib would add its own Host)."""
    import http.client

    conn = http.client.HTTPConnection(host, server.port, timeout=5)
    conn.putrequest("GET", path, skip_host=True)
    hdrs = {"Host": f"127.0.0.1:{server.port}", **(headers or {})}
    for k, v in hdrs.items():
        conn.putheader(k, v)
    conn.endheaders()
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r, body


def test_server_refuses_foreign_sites(tmp_path):
    """No CORS header, foreign Origins refused, and no answers to a non-loopback Host name (a
    foreign site that rebinds its DNS name to 127.0.0.1)."""
    dist = _dist(tmp_path / "dist")
    with PageServer(port=0, dist_dir=dist, ws_url="ws://127.0.0.1:9") as server:
        r, body = _request(server, "/avatar.vrm")
        assert r.status == 200 and body[:4] == b"glTF"
        assert r.getheader("Access-Control-Allow-Origin") is None
        r, _ = _request(server, "/avatar.vrm", {"Origin": f"http://localhost:{server.port}"})
        assert r.status == 200
        r, body = _request(server, "/avatar.vrm", {"Origin": "https://evil.example"})
        assert r.status == 403 and b"evil.example" in body
        r, _ = _request(server, "/config.json", {"Host": f"evil.example:{server.port}"})
        assert r.status == 403
        r, _ = _request(server, "/", {"Origin": "https://evil.example", "Host": f"127.0.0.1:{server.port}"})
        assert r.status == 403


def test_server_on_another_address_needs_the_token(tmp_path):
    dist = _dist(tmp_path / "dist")
    with pytest.raises(SenderError, match="access token") as info:
        PageServer(host="0.0.0.0", port=0, dist_dir=dist)
    assert "\n" not in str(info.value)
    with PageServer(host="0.0.0.0", port=0, dist_dir=dist, ws_url="ws://0.0.0.0:8765", token="s3cret&x") as server:
        assert server.url.endswith("/?token=s3cret%26x")
        r, body = _request(server, "/")
        assert r.status == 401 and b"token" in body
        r, _ = _request(server, "/?token=wrong")
        assert r.status == 401
        r, body = _request(server, "/?token=s3cret%26x")
        assert r.status == 200 and b"<title>" in body
        cookie = r.getheader("Set-Cookie")
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        jar = cookie.split(";")[0]
        r, body = _request(server, "/config.json", {"Cookie": jar, "Host": f"192.0.2.7:{server.port}"})
        assert r.status == 200
        # the WebSocket bound to every interface is named by the host the page came from, with the token
        assert json.loads(body) == {"ws_url": "ws://192.0.2.7:8765?token=s3cret%26x"}
        r, _ = _request(server, "/config.json", {"Cookie": "vtuber_token=nope"})
        assert r.status == 401
