"""Calibration: camera intrinsics from a printed board, and the profile store.

- ``board``: board geometry, the printable sheet (PNG/PDF at true size), detection in images.
- ``camera``: detections -> intrinsics, distortion and RMS reprojection error (pure).
- ``store``: named TOML profiles under ``calibration/`` (cameras, users), validated on load.
- ``synthetic``: boards rendered through a known camera, for tests and benchmarks.

The engine's entry point is ``load_camera_profile(name_or_path, image_size=None)``.
"""

from vtuber.calibrate.store import load_camera_or_default, load_camera_profile

__all__ = ["load_camera_or_default", "load_camera_profile"]
