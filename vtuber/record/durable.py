"""Creating a recording's files and making their directory entries durable (shared by the
recorders)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

from vtuber.errors import RecordingError


def open_for_writing(path: Path) -> IO[bytes]:
    """``open(path, "wb")``, creating missing parent folders; an ``OSError`` becomes a one-line
    ``RecordingError`` naming the file and the fix."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RecordingError(
            f"cannot write {path}: cannot create the folder {path.parent} ({exc.strerror or exc}); choose a writable folder"
        ) from None
    try:
        return open(path, "wb")  # the caller closes it
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise RecordingError(
            f"cannot write {path}: {reason}; check the folder is writable"
        ) from None


def fsync_dir(path: Path) -> None:
    """fsync the folder holding ``path`` so the file's name survives a power loss; best effort
    (some file systems refuse to fsync a directory)."""
    try:
        fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
