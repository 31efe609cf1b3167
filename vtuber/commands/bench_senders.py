"""``vtuber bench senders``: VMC + WebSocket + OSC at 60 Hz for minutes (docs/benchmarks.md)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from vtuber.commands.bench import add_mode

DOC = Path("docs/benchmarks.md")


def register_bench(modes: Any) -> None:
    add_mode(
        modes,
        "senders",
        "rate drift, memory growth and send cost of VMC + WebSocket + OSC at 60 Hz over a long run",
        _senders_args,
        cmd_senders,
    )


def _senders_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seconds", type=float, default=600.0, help="run length (default 600)")
    p.add_argument("--rate", type=float, default=60.0, help="frames per second (default 60)")
    p.add_argument("--ws-clients", type=int, default=3, help="reading WebSocket clients (default 3)")
    p.add_argument("--warmup", type=float, default=None, help="seconds before memory is compared (default min(60, seconds/5))")
    p.add_argument("--doc", type=Path, default=DOC, help="Markdown file to update (default docs/benchmarks.md)")
    p.add_argument("--no-doc", action="store_true", help="print only")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the numbers and the 1-s samples as JSON")
    p.add_argument("--plot", type=Path, metavar="PNG", help="also plot rate and memory over time")


def cmd_senders(args: argparse.Namespace) -> int:
    from vtuber.bench.senders import plot, report, run_senders_bench
    from vtuber.bench.throughput import write_section

    def progress(line: str) -> None:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()

    r = run_senders_bench(
        args.seconds, rate_hz=args.rate, ws_clients=args.ws_clients, warmup_s=args.warmup, progress=progress
    )
    command = f"vtuber bench senders --seconds {args.seconds:g}"
    if args.rate != 60.0:
        command += f" --rate {args.rate:g}"
    if args.ws_clients != 3:
        command += f" --ws-clients {args.ws_clients}"
    text = report(r, command)
    print(text)
    if args.json:
        first, last = r.rates_first_last()
        data = {
            "seconds": r.seconds, "rate_hz": r.rate_hz, "frames_sent": r.frames_sent, "frames_skipped": r.frames_skipped,
            "elapsed_s": r.elapsed_s, "rate_first_fifth": first, "rate_last_fifth": last,
            "max_rate_deviation": r.max_rate_deviation(), "rss_growth": r.rss_growth(), "cost_ms": r.cost_ms,
            "lateness_ms": r.lateness_ms, "final": r.final, "load": [r.load_start, r.load_end], "cpu_s": r.cpu_s,
            "samples": r.samples.tolist(),
        }
        args.json.write_text(json.dumps(data, indent=1), encoding="utf-8")
    if args.plot:
        plot(r, args.plot)
    if not args.no_doc:
        write_section(args.doc, "senders", text)
    return 0
