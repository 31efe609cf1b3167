"""Pinhole camera intrinsics for PnP."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from numpy.typing import NDArray

from vtuber.conventions import focal_length_from_fov

DEFAULT_HORIZONTAL_FOV_DEG = 60.0  # typical laptop/USB webcams are 55-70 degrees horizontally


@dataclass(frozen=True, slots=True)
class CameraIntrinsics:
    """Focal lengths and principal point in pixels, OpenCV distortion coefficients.

    Attributes:
        width, height: the image size these intrinsics belong to, pixels.
        fx, fy: focal lengths, pixels.
        cx, cy: principal point, pixels.
        distortion: OpenCV (k1, k2, p1, p2[, k3...]) coefficients; zeros for an ideal lens.
    """

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    distortion: tuple[float, ...] = field(default=(0.0, 0.0, 0.0, 0.0, 0.0))

    @classmethod
    def from_fov(cls, width: int, height: int, horizontal_fov_deg: float = DEFAULT_HORIZONTAL_FOV_DEG) -> CameraIntrinsics:
        """Square pixels, centred principal point, no distortion."""
        f = focal_length_from_fov(width, horizontal_fov_deg)
        return cls(width, height, f, f, width / 2.0, height / 2.0)

    def scaled_to(self, width: int, height: int) -> CameraIntrinsics:
        """The same lens at another resolution of the same aspect (e.g. a resized stream)."""
        if (width, height) == (self.width, self.height):
            return self
        sx, sy = width / self.width, height / self.height
        return CameraIntrinsics(width, height, self.fx * sx, self.fy * sy, self.cx * sx, self.cy * sy, self.distortion)

    @property
    def matrix(self) -> NDArray[np.float64]:
        """3x3 OpenCV camera matrix."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @property
    def distortion_array(self) -> NDArray[np.float64]:
        return np.asarray(self.distortion, dtype=np.float64)

    def normalised(self, pixels: NDArray[np.float64]) -> NDArray[np.float64]:
        """(N, 2) pixel points -> (N, 2) undistorted normalised image coordinates (x/z, y/z of
        each point's camera ray, OpenCV axes): the plain pinhole inverse without lens
        distortion, ``cv2.undistortPoints`` with it."""
        if any(self.distortion):
            return cv2.undistortPoints(pixels.reshape(-1, 1, 2), self.matrix, self.distortion_array).reshape(-1, 2)
        out = np.empty((len(pixels), 2))
        x, y = out[:, 0], out[:, 1]  # per column: a (N, 2) op broadcast against (2,) loops per row
        np.subtract(pixels[:, 0], self.cx, out=x)
        x /= self.fx
        np.subtract(pixels[:, 1], self.cy, out=y)
        y /= self.fy
        return out
