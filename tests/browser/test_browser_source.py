"""The browser-source page in headless Chromium: it draws the default avatar over a transparent
background, follows the head and blinks from the stream, reconnects, and reports its latency."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tests.browser.support import FakeEngine, eye_mask, frame, iris_mask

pytestmark = pytest.mark.browser

VRM1_EXPRESSIONS = {
    "aa", "ih", "ou", "ee", "oh", "blink", "blinkLeft", "blinkRight",
    "happy", "angry", "sad", "relaxed", "surprised", "lookUp", "lookDown", "lookLeft", "lookRight",
}  # fmt: skip


def _vrm1_name(unity: str) -> str:
    thumbs = {"Proximal": "Metacarpal", "Intermediate": "Proximal"}
    if "Thumb" in unity:
        for a, b in thumbs.items():
            if unity.endswith(a):
                unity = unity[: -len(a)] + b
                break
    return unity[0].lower() + unity[1:]


def _connected_page(open_page, engine: FakeEngine, query: str = ""):
    page = open_page(f"?ws={engine.url}{query}")
    page.wait("window.__vtuber.avatarLoaded && window.__vtuber.connected")
    return page


def test_page_loads_without_console_errors_and_draws_the_avatar(open_page, engine):
    page = _connected_page(open_page, engine)
    engine.send(frame(1, 0.0))
    page.wait_applied(1)
    assert page.errors() == []
    assert engine.paths and "coords=gltf" in engine.paths[0] and "names=profile" in engine.paths[0]
    img = page.rgba()
    alpha = img[..., 3]
    drawn = (alpha > 0).mean()
    # transparent background (the corners are empty) with the avatar drawn in the middle
    assert alpha[0, 0] == alpha[0, -1] == alpha[-1, 0] == 0
    assert 0.05 < drawn < 0.9, drawn
    assert alpha[img.shape[0] // 3, img.shape[1] // 2] == 255


@pytest.mark.parametrize("preset", ["head", "bust", "upper"])
def test_framing_presets_show_the_face(open_page, engine, preset):
    page = _connected_page(open_page, engine, f"&frame={preset}")
    engine.send(frame(1, 0.0))
    page.wait_applied(1)
    img = page.rgba()
    irises = iris_mask(img)
    assert irises.sum() > 4, f"no iris pixels with frame={preset}"
    # the eyes are in the upper half of the picture
    assert np.nonzero(irises)[0].mean() < img.shape[0] * 0.5


def test_head_yaw_turns_the_rendered_head_the_same_way(open_page, engine):
    page = _connected_page(open_page, engine, "&frame=head")
    centroids = {}
    for i, yaw in enumerate((30.0, -30.0, 0.0), start=1):
        engine.send(frame(i, i * 0.033, yaw=yaw))
        page.wait_applied(i)
        mask = eye_mask(page.rgba())
        assert mask.sum() > 20
        centroids[yaw] = np.nonzero(mask)[1].mean()
    # +yaw turns the face toward the avatar's own left (+X), the viewer's screen right
    width = page.page.viewport_size["width"]
    assert centroids[30.0] > centroids[0.0] + 0.03 * width, centroids
    assert centroids[-30.0] < centroids[0.0] - 0.03 * width, centroids


def test_blink_closes_the_eyes(open_page, engine):
    page = _connected_page(open_page, engine, "&frame=head")
    engine.send(frame(1, 0.0))
    page.wait_applied(1)
    img = page.rgba()
    open_eyes = eye_mask(img).sum()
    open_iris = iris_mask(img)
    engine.send(frame(2, 0.033, blendshapes={"blink": 1.0}))
    page.wait_applied(2)
    closed = eye_mask(page.rgba()).sum()
    assert open_eyes > 200
    assert closed < 0.2 * open_eyes, (open_eyes, closed)

    # blinkLeft closes only the avatar's left eye, which the viewer sees on the right
    engine.send(frame(3, 0.066, blendshapes={"blinkLeft": 1.0}))
    page.wait_applied(3)
    wink = iris_mask(page.rgba())
    half = wink.shape[1] // 2
    assert wink[:, half:].sum() < 0.2 * open_iris[:, half:].sum()
    assert wink[:, :half].sum() > 0.7 * open_iris[:, :half].sum()


def test_page_resumes_after_the_engine_restarts(open_page, engine):
    page = _connected_page(open_page, engine)
    engine.send(frame(1, 0.0))
    page.wait_applied(1)
    engine.stop()
    page.wait("!window.__vtuber.connected", 10000)
    time.sleep(1.0)  # the page keeps retrying while the engine is away
    engine.start()
    page.wait("window.__vtuber.connected && window.__vtuber.connects >= 2", 15000)
    engine.send(frame(500, 10.0, yaw=20.0))
    page.wait_applied(500)
    assert page.state("lastIndex") == 500


def test_default_avatar_has_every_bone_and_expression_the_engine_sends(open_page, engine):
    from vtuber.retarget.skeleton import BONES

    page = _connected_page(open_page, engine)
    st = page.state()
    assert st["metaVersion"] == "1"
    missing_bones = {_vrm1_name(b) for b in BONES} - set(st["humanoidBones"])
    assert not missing_bones
    assert len(st["humanoidBones"]) == 55
    assert VRM1_EXPRESSIONS <= set(st["expressions"])


def test_invalid_avatar_shows_a_clear_message(open_page):
    page = open_page("?ws=ws://127.0.0.1:8&avatar=config.json")
    page.wait("window.__vtuber.avatarError !== null")
    text = page.page.inner_text("#message")
    assert "not" in text and "VRM" in text and "config.json" in text
    assert page.page.is_visible("#message")
    assert any("VRM" in e for e in page.errors())


def test_latency_from_message_to_rendered_frame(open_page, engine):
    page = _connected_page(open_page, engine, "&overlay=1")
    page.page.evaluate("window.__vtuber.latency.length = 0")

    def make(i: int, t: float):
        return frame(
            i, t, yaw=20.0 * np.sin(t * 3.0), blendshapes={"aa": 0.5 + 0.5 * np.sin(t * 5.0)}
        )

    engine.stream(make, fps=30, seconds=5.0, start_index=1)
    page.page.wait_for_timeout(200)
    samples = np.array(page.state("latency"))
    st = page.state()
    p50, p95 = np.percentile(samples, [50, 95])
    print(
        f"\nbrowser-source latency (message sent -> rendered frame), {len(samples)} frames, "
        f"page {st['fps']:.0f} fps: p50 {p50:.1f} ms, p95 {p95:.1f} ms"
    )
    assert len(samples) > 50
    assert 0 <= p50 < 250, p50
    assert "latency" in page.page.inner_text("#overlay")


def test_vrm0_profile_names_drive_the_expressions(open_page, engine):
    """The engine's default profile (vrm0) sends VRM 0.x preset names: Blink_L winks the avatar's
    left eye, A and Joy are applied too (three-vrm only knows the VRM 1.0 names)."""
    page = _connected_page(open_page, engine, "&frame=head")
    engine.send(frame(1, 0.0))
    page.wait_applied(1)
    open_iris = iris_mask(page.rgba())
    engine.send(frame(2, 0.033, blendshapes={"A": 1.0, "Joy": 1.0, "LookUp": 0.0}))
    page.wait_applied(2)
    engine.send(frame(3, 0.066, blendshapes={"Blink_L": 1.0}))  # alone: happy blocks blinks (VRM)
    page.wait_applied(3)
    assert not {"Blink_L", "A", "Joy", "LookUp"} & set(page.state("ignoredNames"))
    wink = iris_mask(page.rgba())
    half = wink.shape[1] // 2
    assert wink[:, half:].sum() < 0.2 * open_iris[:, half:].sum()  # the avatar's left eye, viewer's right
    assert wink[:, :half].sum() > 0.7 * open_iris[:, :half].sum()
    assert page.errors() == []


def _avatar_without(tmp_path, *bones: str):
    """The default avatar with some optional humanoid bones unmapped (as many VRoid models lack
    upperChest, or neck in VRM 1.0)."""
    import json
    import struct

    from vtuber.web.server import default_avatar_bytes

    data = default_avatar_bytes()
    magic, version, _ = struct.unpack_from("<III", data, 0)
    n, kind = struct.unpack_from("<II", data, 12)
    doc = json.loads(data[20 : 20 + n])
    human = doc["extensions"]["VRMC_vrm"]["humanoid"]["humanBones"]
    for b in bones:
        del human[b]
    js = json.dumps(doc).encode()
    js += b" " * (-len(js) % 4)
    rest = data[20 + n :]
    path = tmp_path / "partial.vrm"
    path.write_bytes(struct.pack("<III", magic, version, 20 + len(js) + len(rest)) + struct.pack("<II", len(js), kind) + js + rest)
    return path


def test_rotations_of_bones_the_model_lacks_reach_their_children(browser, engine, tmp_path):
    """UpperChest 20 deg + Neck 10 deg + Head 0: the head faces 30 deg on a model without
    upperChest and neck, as on the full model."""
    from tests.browser.support import Page, yaw_quaternion
    from vtuber.web.server import PageServer

    sent = {"UpperChest": yaw_quaternion(20.0), "Neck": yaw_quaternion(10.0), "Head": yaw_quaternion(0.0)}
    facings = {}
    for label, avatar in (("full", None), ("partial", _avatar_without(tmp_path, "upperChest", "neck"))):
        with PageServer(port=0, avatar_path=avatar, ws_url="ws://127.0.0.1:9") as server:
            page = Page(browser, server.url + f"?ws={engine.url}&interp=0")
            try:
                page.wait("window.__vtuber.avatarLoaded && window.__vtuber.connected")
                if label == "partial":
                    assert not {"upperChest", "neck"} & set(page.state("humanoidBones"))
                engine.send(frame(1, 0.0, bones=sent))
                page.wait_applied(1)
                facings[label] = page.page.evaluate("() => window.__vtuber.boneFacing('head')")
                assert page.errors() == []
            finally:
                page.close()
    assert facings["full"]["yaw"] == pytest.approx(30.0, abs=0.5), facings
    assert facings["partial"]["yaw"] == pytest.approx(30.0, abs=0.5), facings


def test_a_bone_a_frame_leaves_out_holds_its_pose(open_page, engine):
    """Frames without a Head (tracking lost with smoothing off): the head stays turned, it does
    not replay its last move from the start (it snapped back to ~0 deg for a frame)."""
    page = _connected_page(open_page, engine)
    engine.send(frame(1, 0.0, yaw=40.0))
    page.wait_applied(1)
    yaws = []
    for i in range(2, 6):  # 0.2 s apart: each frame interpolates over 200 ms, sampled early in it
        f = frame(i, i * 0.2, yaw=40.0)
        del f["bones"]["Head"]
        del f["head"]
        engine.send(f)
        page.wait_applied(i, settle_ms=10)
        yaws.append(page.page.evaluate("() => window.__vtuber.boneFacing('head').yaw"))
    assert min(yaws) > 38.0, yaws


def test_ws_address_without_a_scheme_and_a_bad_fov_still_work(open_page, engine):
    """`?ws=127.0.0.1:PORT` means ws://; a coords= pasted into it is replaced by the gltf the page
    needs; an unusable fov falls back to 30 degrees (fov=Infinity drew nothing)."""
    host_port = engine.url.split("://", 1)[1].rstrip("/")
    page = open_page(f"?ws={host_port}/?coords=unity&fov=Infinity")
    page.wait("window.__vtuber.avatarLoaded && window.__vtuber.connected")
    assert "coords=gltf" in engine.paths[-1] and "unity" not in engine.paths[-1]
    assert page.state("config")["fov"] == 30
    engine.send(frame(1, 0.0))
    page.wait_applied(1)
    assert (page.rgba()[..., 3] > 0).mean() > 0.05
    assert page.errors() == []


def test_the_page_reloads_the_avatar_when_the_engine_restarts_with_another(browser, engine, tmp_path):
    """OBS keeps the page open across an engine restart: if the restarted engine serves another
    model (another --avatar), the page loads it on reconnect instead of showing the old one."""
    from tests.browser.support import Page
    from vtuber.web.server import PageServer

    first = PageServer(port=0, ws_url="ws://127.0.0.1:9").start()
    port = first.port
    page = Page(browser, first.url + f"?ws={engine.url}")
    try:
        page.wait("window.__vtuber.avatarLoaded && window.__vtuber.connected")
        assert "upperChest" in page.state("humanoidBones") and page.state("avatarReloads") == 0
        engine.stop()
        first.close()
        page.wait("!window.__vtuber.connected")
        second = PageServer(port=port, avatar_path=_avatar_without(tmp_path, "upperChest"), ws_url="ws://127.0.0.1:9").start()
        try:
            engine.start()
            page.wait("window.__vtuber.avatarReloads === 1 && window.__vtuber.avatarLoaded")
            assert "upperChest" not in page.state("humanoidBones")
            engine.send(frame(1, 0.0, yaw=20.0))
            page.wait_applied(1)
            # the refused reconnects while the engine was down are the browser's own log lines
            assert [e for e in page.errors() if "ERR_CONNECTION_REFUSED" not in e] == []
        finally:
            second.close()
    finally:
        page.close()
        first.close()


def test_bones_no_frame_has_carried_hang_in_the_engines_rest_pose(open_page):
    """The real engine's hello carries its rest pose: before any frame (and in face mode, whose
    frames never carry the arms) the avatar's arms hang relaxed instead of standing out in the
    model's T-pose."""
    from vtuber.send.websocket import WebSocketServer

    server = WebSocketServer(port=0)
    server.start()
    try:
        page = open_page(f"?ws=ws://127.0.0.1:{server.port}")
        page.wait("window.__vtuber.avatarLoaded && window.__vtuber.connected && window.__vtuber.restBones > 0")
        assert page.state("restBones") >= 30  # arms, hands and fingers of both sides
        for side in ("left", "right"):
            shoulder, hand = (
                np.array(page.page.evaluate(f"() => window.__vtuber.boneWorld('{side}{bone}')"))
                for bone in ("UpperArm", "Hand")
            )
            reach = np.linalg.norm(hand - shoulder)
            # relaxed_rest: 75 deg below the T-pose, elbow bent 15 deg: the hand well below the
            # shoulder (T-pose: level with it)
            assert shoulder[1] - hand[1] > 0.8 * reach, (side, shoulder, hand)
        assert page.errors() == []
    finally:
        server.close()
