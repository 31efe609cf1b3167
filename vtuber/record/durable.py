"""Making a newly created file's directory entry durable (shared by the recorders)."""

from __future__ import annotations

import os
from pathlib import Path


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
