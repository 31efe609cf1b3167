"""The ``Sender`` protocol every output implements.

Senders only move bytes: they call an encoder from ``vtuber.encode`` and write the result to a
socket. Per-frame trouble (a receiver that is not listening, a full socket buffer) is logged as
a state change and never raised; only construction and start-up raise ``SenderError``.
"""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, runtime_checkable

from vtuber.records import AvatarPose


@runtime_checkable
class Sender(Protocol):
    """Something the engine hands every ``AvatarPose`` to.

    ``send`` is called from the engine thread once per frame and must return quickly (well
    under a millisecond of blocking work); ``close`` releases sockets and threads and is
    idempotent. Senders are context managers (``__exit__`` calls ``close``).
    """

    def send(self, pose: AvatarPose, time_s: float) -> None:
        """Send one frame. ``time_s``: the engine's sender-relative clock, seconds."""

    def close(self) -> None:
        """Release resources; safe to call twice."""

    def __enter__(self) -> Sender: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
