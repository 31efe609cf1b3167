"""Recording: crash-safe session files (JSON Lines), streaming BVH, repair and plots.

``session``   every frame's landmarks, rig and timestamps, one JSON line each (replayable)
``bvh_file``  a BVH written as frames arrive, valid after a clean close
``repair``    makes a file cut short by a crash (SIGKILL, power loss) valid again
``plot``      head angles, blinks, mouth and hand presence of a session over time (matplotlib)
"""

from __future__ import annotations

from vtuber.errors import RecordingError

__all__ = ["RecordingError"]
