"""Telemetry: stage percentiles, the after-tracking sum, and the engine thread's CPU time."""

from __future__ import annotations

import pytest

from vtuber.telemetry import Telemetry


def test_after_tracking_sums_the_stages_and_keeps_cpu_time_apart() -> None:
    tel = Telemetry(window=100)
    for i in range(100):
        wall = {"track": 0.004, "solve": 0.0005, "smooth": 0.0002, "retarget": 0.00005, "send": 0.00025 + i * 1e-5}
        tel.record(wall, latency_s=0.006, face=True, after_tracking_cpu_s=0.0008)
    after = tel.after_tracking()
    assert after.p50_ms == pytest.approx(1.0 + 0.495e-3 * 1000, abs=1e-9)  # 0.5+0.2+0.05+0.25 ms + median ramp
    assert tel.after_tracking_cpu().p95_ms == pytest.approx(0.8)
    assert tel.stage("track").p99_ms == pytest.approx(4.0)


def test_ring_buffer_keeps_only_the_window() -> None:
    tel = Telemetry(window=10)
    for i in range(25):
        tel.record({"solve": 0.001 * i}, latency_s=0.0, face=i % 2 == 0, after_tracking_cpu_s=0.001 * i)
    assert tel.frames == 25 and tel.faces == 13
    assert tel.after_tracking_cpu().p50_ms == pytest.approx(19.5)  # frames 15..24
    assert tel.stage("solve").p50_ms == pytest.approx(19.5)


def test_empty_telemetry_reads_zero() -> None:
    tel = Telemetry()
    assert tel.after_tracking_cpu().p95_ms == 0.0 and tel.latency().p50_ms == 0.0


def test_stage_durations_come_back_oldest_first_in_milliseconds() -> None:
    tel = Telemetry(window=4)
    tel.record({"solve": 0.001}, latency_s=0.0, face=True)
    tel.record({"solve": 0.002}, latency_s=0.0, face=True)
    assert tel.stage_durations_ms("solve").tolist() == pytest.approx([1.0, 2.0])
    for i in range(3, 8):  # wraps the ring: frames 4..7 remain
        tel.record({"solve": 0.001 * i}, latency_s=0.0, face=True)
    assert tel.stage_durations_ms("solve").tolist() == pytest.approx([4.0, 5.0, 6.0, 7.0])
    assert tel.stage_durations_ms("track").tolist() == [0.0] * 4  # a stage the frames did not report
