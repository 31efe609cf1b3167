"""``vtuber bench throughput | latency | soak``: the whole engine on real clips (docs/benchmarks.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from vtuber.commands.bench import add_mode
from vtuber.errors import SourceError

DEFAULT_MEDIA = Path("../shared/media")
DOC = Path("docs/benchmarks.md")
# Clips per mode: small webcam-like faces for face-only, gesturing people for the body modes.
FACE_CLIPS = ("liveportrait/d10.mp4", "liveportrait/d18.mp4", "pyfeat/single_face.mp4", "dreamtalk_mead/M030_front_neutral_level1_001.mp4")
BODY_CLIPS = ("sign_language_pose/test_video.mp4", "sign_language_pose/SOUP.mp4", "lia/ted_driving1.mp4")


def register_bench(modes: Any) -> None:
    add_mode(modes, "throughput", "frames per second and per-stage p50/p95/p99 latency per tracking mode", _throughput_args, cmd_throughput)
    add_mode(modes, "latency", "capture-to-send latency with a live source faster than the engine", _latency_args, cmd_latency)
    add_mode(modes, "convert", "vtuber convert speed against real time on a clip", _convert_args, cmd_convert)
    add_mode(modes, "soak", "memory and frame rate over a long run with every output and recording on", _soak_args, cmd_soak)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--media", type=Path, default=DEFAULT_MEDIA, help="folder of the clips (default ../shared/media)")
    p.add_argument("--doc", type=Path, default=DOC, help="Markdown file to update (default docs/benchmarks.md)")
    p.add_argument("--no-doc", action="store_true", help="print only")


def _throughput_args(p: argparse.ArgumentParser) -> None:
    _common(p)
    p.add_argument("--modes", default="face,face_hands,upper_body", help="comma-separated tracking modes")


def _latency_args(p: argparse.ArgumentParser) -> None:
    _common(p)
    p.add_argument("--source-fps", type=float, default=240.0)
    p.add_argument("--seconds", type=float, default=20.0)


def _convert_args(p: argparse.ArgumentParser) -> None:
    _common(p)
    p.add_argument("--clip", default="liveportrait/d10.mp4", help="clip under --media (default liveportrait/d10.mp4)")
    p.add_argument("--mode", choices=("face", "face_hands", "upper_body"), default="upper_body")


def _soak_args(p: argparse.ArgumentParser) -> None:
    _common(p)
    p.add_argument("--seconds", type=float, default=600.0)
    p.add_argument("--out", type=Path, default=Path("out/soak"), help="where the soak's recordings go")


def _clip(media: Path, rel: str) -> Path:
    path = media / rel
    if not path.is_file():
        raise SourceError(f"benchmark clip {path} not found (pass --media DIR)")
    return path


def cmd_throughput(args: argparse.Namespace) -> int:
    from vtuber.bench.throughput import bench_clip, plot_throughput, throughput_table, write_section

    results = []
    for mode in args.modes.split(","):
        for rel in FACE_CLIPS if mode == "face" else BODY_CLIPS:
            result = bench_clip(_clip(args.media, rel), mode)
            sys.stderr.write(
                f"{result.clip} {mode}: {result.fps:.1f} fps, after tracking p95 {result.after_tracking_ms[1]:.2f} ms "
                f"(CPU {result.after_tracking_cpu_ms[1]:.2f} ms)\n"
            )
            results.append(result)
    table = throughput_table(results)
    print(table)
    if not args.no_doc:
        png = args.doc.parent / "bench_throughput.png"
        plot_throughput(results, png)
        text = (
            "## Throughput and per-stage latency\n\n"
            "`vtuber bench throughput` (unpaced: `--no-pace`), each clip through the whole engine: MediaPipe "
            "(Face Mesh for face; Face Mesh and Hands for face_hands; Pose, Hands and Face Mesh concurrently for "
            "upper_body), solvers, balanced smoothing, retargeting, and sending to a real VMC UDP receiver in its own "
            "process and to the WebSocket server process (as `vtuber run` starts it: it encodes each frame once and "
            "writes it to every client) with 3 reading clients in another process (as OBS browser sources would be). "
            "Stages in ms p50/p95/p99 (wall clock in the engine thread, frame by frame after MediaPipe has run); "
            "*capture* = from the frame's decode to the engine taking it (an unpaced run decodes up to two frames "
            "ahead, so this includes their wait); *after tracking* = solve + smooth + retarget + send, as wall clock "
            "and as the engine thread's CPU time (`time.thread_time`: the cost itself, without the time the two "
            "cores were busy with the receivers, the server process or decoding); *WebSocket process CPU* = the "
            "server process's user + system CPU time over the run per engine frame (the encoding and writes to "
            "3 clients that left the engine's process: it still costs a core).\n\n"
            f"{table}\n\n![per-stage p95]({png.name})\n"
        )
        write_section(args.doc, "throughput", text)
    return 0


def cmd_latency(args: argparse.Namespace) -> int:
    from vtuber.bench.throughput import bench_latency, write_section

    r = bench_latency(_clip(args.media, "pyfeat/single_face.mp4"), source_fps=args.source_fps, seconds=args.seconds)
    e = r.extra
    text = (
        "## Latency with a source faster than the engine\n\n"
        f"`vtuber bench latency`: {r.clip} ({r.resolution}) replayed as a live camera at {args.source_fps:.0f} fps for "
        f"{args.seconds:.0f} s, face mode, VMC output. The engine took {r.frames} of {e['source_frames']} frames "
        f"({e['dropped']} dropped by the newest-frame slot, none queued) at {r.fps:.1f} fps.\n\n"
        "| capture-to-send latency p50 / p95 / p99 ms | engine frame interval ms | source frame interval ms |\n|---|---|---|\n"
        f"| {r.latency_ms[0]:.1f} / {r.latency_ms[1]:.1f} / {r.latency_ms[2]:.1f} | {e['engine_frame_interval_ms']:.1f} | "
        f"{e['source_frame_interval_ms']:.1f} |\n"
    )
    print(text)
    if not args.no_doc:
        write_section(args.doc, "latency", text)
    return 0


def cmd_soak(args: argparse.Namespace) -> int:
    from vtuber.bench.throughput import bench_soak, write_section

    r = bench_soak(args.seconds, args.out)
    first, last = r.fps_first_last()
    rss = [s[1] for s in r.samples]
    text = (
        "## Soak\n\n"
        f"`vtuber bench soak --seconds {args.seconds:.0f}`: the demo source paced at 30 fps through the whole engine "
        f"with VMC, the WebSocket server process with {len(r.ws_received)} reading clients, a BVH + CSV and a session "
        f"recording, for {r.seconds:.0f} s ({r.frames} frames). RSS is the engine's plus the server process's.\n\n"
        "| RSS after warm-up MiB | RSS at end MiB | growth after warm-up | fps first fifth | fps last fifth | WS messages per client |\n"
        "|---|---|---|---|---|---|\n"
        f"| {next((s[1] for s in r.samples if s[0] >= r.warmup_s), float('nan')):.1f} | {rss[-1] if rss else float('nan'):.1f} | "
        f"{r.rss_growth_percent():.2f} % | {first:.2f} | {last:.2f} | {', '.join(map(str, r.ws_received))} |\n"
    )
    print(text)
    if not args.no_doc:
        write_section(args.doc, "soak", text)
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    """Time ``vtuber convert CLIP -o OUT.bvh`` exactly as a user runs it (a child process, so
    start-up and model loading count) against the clip's own duration."""
    import os
    import subprocess
    import tempfile
    import time

    from vtuber.bench.throughput import write_section
    from vtuber.capture.video import VideoFileSource

    clip = _clip(args.media, args.clip)
    source = VideoFileSource(clip)
    duration_s = source.frame_count / (source.nominal_fps or 30.0)
    source.close()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.bvh"
        start = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "vtuber", "convert", str(clip), "-o", str(out), "--mode", args.mode],
            capture_output=True, text=True, env={**os.environ},
        )
        elapsed = time.monotonic() - start
        if result.returncode != 0:
            sys.stderr.write(result.stderr)
            return result.returncode
    text = (
        "## Offline conversion speed\n\n"
        f"`vtuber bench convert --clip {args.clip} --mode {args.mode}` times `vtuber convert {clip.name} -o OUT.bvh "
        f"--mode {args.mode}` as a child process (start-up and model loading included).\n\n"
        "| clip | clip duration s | conversion wall time s | speed vs real time |\n|---|---|---|---|\n"
        f"| {clip.name} | {duration_s:.2f} | {elapsed:.2f} | {duration_s / elapsed:.2f}x |\n"
    )
    print(text)
    if not args.no_doc:
        write_section(args.doc, f"convert-{args.mode}", text)
    return 0
