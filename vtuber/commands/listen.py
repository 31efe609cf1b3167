"""``vtuber listen``: receive VMC like a Marionette and print or record what a performer sends."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from vtuber.errors import ConfigError
from vtuber.listen import DEFAULT_PORT, VmcListener, run_listen

EPILOG = """\
examples:
  vtuber listen                          what arrives on 127.0.0.1:39539, one line per second
  vtuber listen --host 0.0.0.0           also from other PCs on the network
  vtuber listen --record vmc.jsonl --duration 10   ten seconds of every message, JSON lines

A receiver app (VSeeFace, EVMC4U...) already bound to the port must be closed first, or send
to another port (vtuber run --vmc 127.0.0.1:39541 and vtuber listen --port 39541).
"""


def register(subparsers: Any) -> None:
    """Add the ``listen`` sub-command."""
    p = subparsers.add_parser(
        "listen",
        help="receive VMC and print or record what a performer sends",
        description="A VMC receiver for debugging: prints addresses, rates, bones and blendshapes "
        "once a second, or records every message as JSON lines. Garbage packets are counted.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"UDP port (default {DEFAULT_PORT})")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1; 0.0.0.0 for all)")
    p.add_argument("--record", metavar="FILE", help="write every message as a JSON line (t = receive time, s)")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds (default: until Ctrl+C)")
    p.add_argument("--quiet", action="store_true", help="no summary lines (with --record)")
    p.set_defaults(handler=cmd_listen)


def cmd_listen(args: argparse.Namespace, stop: threading.Event | None = None) -> int:
    """Run the listener; returns 0. ``stop`` lets callers (tests, signal handlers) end it.

    Without ``stop``, SIGINT and SIGTERM (when run in the main thread) end the run cleanly:
    the ``--record`` file is flushed and closed and the totals are printed.
    """
    if not 1 <= args.port <= 65535:
        raise ConfigError(f"--port must be 1-65535, got {args.port}")
    if args.duration is not None and args.duration <= 0:
        raise ConfigError(f"--duration must be > 0 seconds, got {args.duration}")
    record = None
    if args.record:
        try:
            record = Path(args.record).open("w", encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"--record {args.record}: cannot write ({exc})") from exc
    previous_handlers: dict[int, Any] = {}
    if stop is None:
        stop = threading.Event()
        previous_handlers = _stop_on_signals(stop)
    try:
        with VmcListener(args.host, args.port) as listener:
            host, port = listener.address
            sys.stderr.write(f"vtuber: listening for VMC on {host}:{port}\n")
            out = None if args.quiet else sys.stdout
            try:
                stats = run_listen(listener, out=out, record=record, duration_s=args.duration, stop=stop)
            except KeyboardInterrupt:
                stats = None
    finally:
        for signum, handler in previous_handlers.items():
            signal.signal(signum, handler)
        if record is not None:
            record.close()
    if stats is not None:
        sys.stderr.write(
            f"vtuber: {stats.datagrams} datagrams, {stats.messages} messages, {len(stats.bones)} bones, "
            f"{len(stats.blendshapes)} blendshapes, {stats.garbage} garbage\n"
        )
    return 0


def _stop_on_signals(stop: threading.Event) -> dict[int, Any]:
    """SIGINT and SIGTERM set ``stop``; returns the handlers they replaced (none off the main
    thread, where Python cannot install signal handlers)."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(_signum: int, _frame: Any) -> None:
        stop.set()

    return {signum: signal.signal(signum, handler) for signum in (signal.SIGINT, signal.SIGTERM)}
