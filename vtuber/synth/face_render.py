"""A synthetic face renderer: MediaPipe's canonical face mesh textured with a photograph.

The demo source (``vtuber run --demo``) and the face benchmark use it as a ground-truth
generator: every rendered frame comes with the exact head pose, eye closure and jaw opening that
produced it, and with the 2D pixel position of all 478 MediaPipe landmarks (468 mesh + 10 iris).

How a frame is made:

1. The canonical face mesh (``vtuber/data/canonical_face.npz``: centimetres, x to the subject's
   left, y up, z out of the face) is deformed: the upper eyelids slide down onto the lower lids,
   the lower lip and chin rotate about a jaw pivot. Two rings of "skirt" vertices around the face
   oval carry the hair, ears and neck around the face so they turn with the head.
2. The mesh is placed in front of a pinhole camera with
   ``vtuber.conventions.internal_head_to_opencv_pose`` and projected.
3. Each visible (front-facing) triangle is drawn back to front (painter's algorithm) into a
   triangle-id buffer; every covered pixel then samples the photograph through its triangle's
   affine map (one ``cv2.remap``): piecewise-affine texturing, the classic per-triangle warp.
4. The result is alpha-composited over the photograph with its face area inpainted and aligned
   so the rest-pose face lands on it: a person turning their head in front of the same scene.

Pixel coordinates are continuous with the origin at the top-left image corner, x right, y down:
pixel ``(i, j)`` covers ``[i, i+1) x [j, j+1)``, so ``landmarks_px / (width, height)`` are
MediaPipe's normalised image coordinates.

Pure: no I/O except loading the packaged ``.npz`` files (and ``skimage.data.astronaut()`` in
``FaceRenderer.astronaut``), no clock, no global state; the only mutable state is a per-instance
cache of the background for each camera.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from importlib import resources
from typing import Any

import cv2
import numpy as np
from numpy.typing import ArrayLike, NDArray

from vtuber import conventions, geometry

F64 = NDArray[np.float64]
U8 = NDArray[np.uint8]

N_MESH = 468
N_LANDMARKS = 478

# ---------------------------------------------------------------------------------------------
# Landmark index lists (MediaPipe face mesh topology). "Right"/"left" are the subject's sides:
# the subject's left eye has x > 0 in the canonical mesh.
# ---------------------------------------------------------------------------------------------

# Eye rings, each ordered outer corner -> inner corner. ``*_UPPER0`` is the upper lid margin,
# ``*_LOWER0`` the lower lid margin (same column order, corners excluded), ``*_UPPER1/2`` the two
# rings of skin above the lid.
RIGHT_EYE_CORNERS = (33, 133)
RIGHT_EYE_UPPER0 = (246, 161, 160, 159, 158, 157, 173)
RIGHT_EYE_LOWER0 = (7, 163, 144, 145, 153, 154, 155)
RIGHT_EYE_UPPER1 = (247, 30, 29, 27, 28, 56, 190)
RIGHT_EYE_UPPER2 = (113, 225, 224, 223, 222, 221, 189)
LEFT_EYE_CORNERS = (263, 362)
LEFT_EYE_UPPER0 = (466, 388, 387, 386, 385, 384, 398)
LEFT_EYE_LOWER0 = (249, 390, 373, 374, 380, 381, 382)
LEFT_EYE_UPPER1 = (467, 260, 259, 257, 258, 286, 414)
LEFT_EYE_UPPER2 = (342, 445, 444, 443, 442, 441, 413)

# Lids: fraction of the upper-margin displacement that each ring above it follows when the eye
# closes. 1.0 puts the closed lid margin exactly on the lower lid; the rings above follow
# partially so the eyelid skin stretches smoothly instead of folding.
LID_RING_FOLLOW = (1.0, 0.45, 0.12)

# Lips, ordered subject's right corner -> left corner; upper and lower share the corners.
MOUTH_INNER_CORNERS = (78, 308)
MOUTH_INNER_UPPER = (191, 80, 81, 82, 13, 312, 311, 310, 415)
MOUTH_INNER_LOWER = (95, 88, 178, 87, 14, 317, 402, 318, 324)
MOUTH_OUTER_CORNERS = (61, 291)
MOUTH_OUTER_UPPER = (185, 40, 39, 37, 0, 267, 269, 270, 409)
MOUTH_OUTER_LOWER = (146, 91, 181, 84, 17, 314, 405, 321, 375)

# Jaw: rotation about an axis parallel to the canonical x axis through the jaw joints (in front of
# the ears, behind the face surface). Centimetres in the canonical frame.
JAW_PIVOT_CM = (0.0, 0.5, -5.0)  # temporomandibular joints: about tragus height, 5 cm deep
JAW_MAX_DEG = 14.0  # jaw_open = 1 drops the lower lip ~2.7 cm: a wide "aa"
# Lower teeth stay with the lower lip, upper teeth with the upper lip: fraction of the rest lip gap
# in the photo given to the upper teeth strip (the rest goes to the lower teeth).
UPPER_TEETH_FRACTION = 0.6
MOUTH_INTERIOR_RGB = ((70, 22, 26), (20, 6, 8))  # top and bottom of the dark mouth cavity

# Expressions added for the face benchmark (mouth shapes, smile, brows, gaze), centimetres.
MOUTH_WIDE_MAX = 0.3  # mouth_wide = +1 moves the lip skin sideways by 30 % (width +15 % measured)
MOUTH_NARROW_MAX = 0.45  # mouth_wide = -1 draws it in by 45 % (width -23 % measured: a pursed "u")
MOUTH_FALLOFF_CM = 2.2  # radius of the skin that follows the lips
PUCKER_FORWARD_CM = 0.8  # mouth_wide = -1 pushes the lips this far forward
SMILE_RAISE_CM = 0.6
SMILE_FALLOFF_CM = 1.6
BROW_IDS = {
    "right": (46, 53, 52, 65, 55, 70, 63, 105, 66, 107),
    "left": (276, 283, 282, 295, 285, 300, 293, 334, 296, 336),
}
BROW_RAISE_CM = 0.6
BROW_FALLOFF_CM = 1.5
EYEBALL_RADIUS_CM = 1.2  # the iris sits on a sphere of this radius (adult eyeball ~24 mm)

# Skirt rings around the face oval: (outward offset in the face plane, depth pushed back), cm.
# Carries hair, ears and neck around the face with the head; fades out into the background.
SKIRT_RINGS_CM = ((1.4, 0.8), (3.6, 2.0))

DEFAULT_DISTANCE_M = 0.55  # a person sitting at a laptop webcam
DEFAULT_HEIGHT_M = 0.04  # head a little above the optical axis: the photo's hair stays in frame
DEFAULT_HFOV_DEG = 50.0  # a typical webcam horizontal field of view (50-70 degrees)


# ---------------------------------------------------------------------------------------------
# Public records
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CameraIntrinsics:
    """A pinhole camera without distortion.

    Attributes:
        width, height: image size in pixels.
        fx, fy: focal lengths in pixels.
        cx, cy: principal point in continuous pixel coordinates (origin at the top-left corner
            of the image, so the image centre is ``(width / 2, height / 2)``).
    """

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float

    @classmethod
    def from_fov(
        cls, width: int, height: int, horizontal_fov_deg: float = DEFAULT_HFOV_DEG
    ) -> CameraIntrinsics:
        """Square pixels, principal point at the image centre, given horizontal FOV (degrees)."""
        f = conventions.focal_length_from_fov(width, horizontal_fov_deg)
        return cls(int(width), int(height), f, f, width / 2.0, height / 2.0)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return self.width, self.height

    def matrix(self) -> F64:
        """The 3x3 OpenCV camera matrix (for ``cv2.solvePnP``; note OpenCV puts pixel centres at
        integer coordinates, half a pixel off this class's continuous convention)."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])


def _unit(x: float, name: str) -> float:
    v = float(x)
    if not (0.0 <= v <= 1.0):
        raise ValueError(f"{name} must be in [0, 1], got {v}")
    return v


@dataclass(frozen=True, slots=True)
class FaceState:
    """The ground truth of one rendered face.

    Attributes:
        rotation_xyzw: head rotation, unit quaternion scalar-last, in the *internal* frame
            (right-handed, +Y up, +Z out of the face, +X the subject's left). Identity = looking
            straight into the camera.
        position_m: head origin (the canonical face model's origin, roughly the middle of the
            head behind the nose) in the internal camera-centred frame, metres. The camera looks
            along -Z, so a head in front of the camera has negative z.
        eye_closed_left / eye_closed_right: eyelid closure of the subject's own left / right eye,
            0 = open as in the photograph, 1 = upper lid on the lower lid.
        jaw_open: 0 = mouth as in the photograph (lips together with teeth showing), 1 = jaw
            rotated ``JAW_MAX_DEG`` degrees open.
        mouth_wide: -1..1, lips drawn together and pushed forward (-1, a pucker / "u") or
            stretched sideways (+1, an "i"); ``MOUTH_NARROW_MAX`` / ``MOUTH_WIDE_MAX`` set how far.
        smile_left / smile_right: 0..1, the subject's left / right mouth corner raised
            ``SMILE_RAISE_CM`` and drawn out; negative values (down to -1) pull it down (frown).
        brow_raise_left / brow_raise_right: -1..1, the brow raised (+1: ``BROW_RAISE_CM`` up) or
            lowered (-1).
        gaze_yaw_deg / gaze_pitch_deg: eye rotation of both eyes about their eyeball centres
            (same angle conventions as the head: positive yaw looks toward the subject's left,
            positive pitch looks down). Moves the 10 iris landmarks only: the rendered pixels keep
            the photo's gaze (ground truth for landmark-level tests).
    """

    rotation_xyzw: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 1.0)
    position_m: tuple[float, float, float] = (0.0, DEFAULT_HEIGHT_M, -DEFAULT_DISTANCE_M)
    eye_closed_left: float = 0.0
    eye_closed_right: float = 0.0
    jaw_open: float = 0.0
    mouth_wide: float = 0.0
    smile_left: float = 0.0
    smile_right: float = 0.0
    brow_raise_left: float = 0.0
    brow_raise_right: float = 0.0
    gaze_yaw_deg: float = 0.0
    gaze_pitch_deg: float = 0.0

    def __post_init__(self) -> None:
        q = geometry.normalize(self.rotation_xyzw)
        object.__setattr__(self, "rotation_xyzw", tuple(float(c) for c in q))
        p = tuple(float(c) for c in self.position_m)
        if len(p) != 3 or not all(math.isfinite(c) for c in p):
            raise ValueError(f"position_m must be 3 finite numbers, got {self.position_m!r}")
        if p[2] >= -0.05:
            raise ValueError(f"the head must be in front of the camera (z < -0.05 m), got {p[2]}")
        object.__setattr__(self, "position_m", p)
        object.__setattr__(self, "eye_closed_left", _unit(self.eye_closed_left, "eye_closed_left"))
        object.__setattr__(
            self, "eye_closed_right", _unit(self.eye_closed_right, "eye_closed_right")
        )
        object.__setattr__(self, "jaw_open", _unit(self.jaw_open, "jaw_open"))
        for name in ("mouth_wide", "smile_left", "smile_right", "brow_raise_left", "brow_raise_right"):
            v = float(getattr(self, name))
            if not -1.0 <= v <= 1.0:
                raise ValueError(f"{name} must be in [-1, 1], got {v}")
            object.__setattr__(self, name, v)
        for name in ("gaze_yaw_deg", "gaze_pitch_deg"):
            v = float(getattr(self, name))
            if not abs(v) <= 45.0:
                raise ValueError(f"{name} must be within +-45 degrees, got {v}")
            object.__setattr__(self, name, v)

    @classmethod
    def from_angles(
        cls,
        yaw_deg: float = 0.0,
        pitch_deg: float = 0.0,
        roll_deg: float = 0.0,
        **kwargs: Any,
    ) -> FaceState:
        """A state from head angles in degrees (``geometry.from_yaw_pitch_roll`` order
        ``R = Ry(yaw) Rx(pitch) Rz(roll)``). Positive yaw turns the face toward the subject's
        left (the image right); positive pitch (about +X) tips the face down, chin toward the
        chest; positive roll (about +Z) tilts the head toward the subject's right shoulder, the
        top of the head moving to the image left. Other fields as keywords."""
        q = geometry.from_yaw_pitch_roll(
            math.radians(yaw_deg), math.radians(pitch_deg), math.radians(roll_deg)
        )
        return cls(rotation_xyzw=tuple(float(c) for c in q), **kwargs)

    @property
    def rotation(self) -> F64:
        """The rotation quaternion as a numpy array (x, y, z, w)."""
        return np.array(self.rotation_xyzw, dtype=np.float64)

    def yaw_pitch_roll_deg(self) -> tuple[float, float, float]:
        """(yaw, pitch, roll) in degrees, inverse of ``from_angles``."""
        y, p, r = geometry.to_yaw_pitch_roll(self.rotation)
        return math.degrees(y), math.degrees(p), math.degrees(r)


@dataclass(frozen=True, slots=True)
class RenderResult:
    """A rendered frame with its ground truth.

    Attributes:
        image: (H, W, 3) uint8 RGB.
        state: the state that produced it.
        camera: the camera it was rendered with.
        landmarks_px: (478, 2) float64 projected MediaPipe landmarks (468 mesh + 10 iris),
            continuous pixel coordinates (x right, y down, origin at the top-left corner).
        landmarks_camera_cm: (478, 3) float64 the same points in the OpenCV camera frame
            (x right, y down, z forward), centimetres.
        landmarks_visible: (478,) bool, True where the surface at the landmark faces the camera
            (front-facing vertex normal; iris points also need the eye at least half open).
            Self-occlusion behind the nose is not tested.
    """

    image: U8
    state: FaceState
    camera: CameraIntrinsics
    landmarks_px: F64
    landmarks_camera_cm: F64
    landmarks_visible: NDArray[np.bool_]

    def landmarks_normalized(self) -> F64:
        """(478, 2) landmarks in MediaPipe's normalised image coordinates."""
        return self.landmarks_px / np.array([self.camera.width, self.camera.height], dtype=float)


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def _load_npz(name: str) -> dict[str, np.ndarray]:
    ref = resources.files("vtuber") / "data" / name
    with resources.as_file(ref) as path, np.load(path) as data:
        return {k: np.array(data[k]) for k in data.files}


def _smoothstep(t: F64) -> F64:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _similarity_2d(src: F64, dst: F64) -> F64:
    """Least-squares 2x3 similarity (rotation, uniform scale, translation) mapping src to dst."""
    ms, md = src.mean(0), dst.mean(0)
    a, b = src - ms, dst - md
    # complex-number form: dst = z * src, z = sum(conj(a) b) / sum(|a|^2)
    za = a[:, 0] + 1j * a[:, 1]
    zb = b[:, 0] + 1j * b[:, 1]
    z = np.sum(np.conj(za) * zb) / np.sum(np.abs(za) ** 2)
    lin = np.array([[z.real, -z.imag], [z.imag, z.real]])
    return np.hstack([lin, (md - lin @ ms)[:, None]])


def _boundary_loop(triangles: NDArray[np.int32]) -> list[int]:
    """The mesh's single outer boundary loop (the face oval), as an ordered vertex list."""
    count: dict[tuple[int, int], int] = {}
    directed: dict[int, int] = {}
    for t in triangles:
        for a, b in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0])):
            key = (min(a, b), max(a, b))
            count[key] = count.get(key, 0) + 1
            directed[(int(a) << 16) | int(b)] = 1
    nxt: dict[int, int] = {}
    for (a, b), n in count.items():
        if n == 1:  # boundary edge; keep the direction the triangle uses (same winding)
            if (int(a) << 16) | int(b) in directed:
                nxt[int(a)] = int(b)
            else:
                nxt[int(b)] = int(a)
    start = min(nxt)
    loop = [start]
    while nxt[loop[-1]] != start:
        loop.append(nxt[loop[-1]])
    return loop


# ---------------------------------------------------------------------------------------------
# The renderer
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Mesh:
    """Everything precomputed from the mesh and texture (all arrays read-only)."""

    rest_cm: F64  # (V, 3) rest vertices: 468 mesh + skirt + teeth edges
    uv_px: F64  # (V, 2) texture coordinates in the atlas, continuous pixels
    triangles: NDArray[np.int32]  # (T, 3), counter-clockwise seen from +z at rest
    first_face_tri: int  # triangles[:first_face_tri] are the mouth interior: drawn first
    first_skirt_tri: int  # triangles[first_skirt_tri:] are the skirt around the face oval
    jaw_weight: F64  # (V,) 0..1 share of the jaw rotation
    lid_moves: tuple[tuple[NDArray[np.intp], NDArray[np.intp], F64, str], ...]
    lower_teeth: NDArray[np.intp]  # vertex ids of the lower teeth edge (follow the jaw)
    iris_tri: NDArray[np.intp]  # (10, 3) triangles carrying the iris landmarks
    iris_bary: F64  # (10, 3) barycentric weights


class FaceRenderer:
    """Renders the canonical face mesh textured with a face photograph.

    Args:
        texture: (H, W, 3) uint8 RGB photograph containing one face.
        texture_landmarks_px: (478, 2+) the MediaPipe landmarks on ``texture`` (468 mesh +
            10 iris), continuous pixel coordinates; a third column (depth) is ignored.
        canonical: the canonical mesh arrays (``vertices_cm`` (468, 3), ``triangles`` (898, 3));
            defaults to the packaged ``canonical_face.npz``.
        face_scale: uniform scale of the canonical mesh (1.0 = MediaPipe's adult-size face).
        reference_state: the pose whose projection the background photo is aligned to, so the
            rest face sits where the photographed face was.
    """

    def __init__(
        self,
        texture: ArrayLike,
        texture_landmarks_px: ArrayLike,
        canonical: dict[str, np.ndarray] | None = None,
        face_scale: float = 1.0,
        reference_state: FaceState | None = None,
    ) -> None:
        tex = np.ascontiguousarray(np.asarray(texture, dtype=np.uint8))
        if tex.ndim != 3 or tex.shape[2] != 3:
            raise ValueError(f"texture must be (H, W, 3) uint8 RGB, got shape {tex.shape}")
        lm = np.asarray(texture_landmarks_px, dtype=np.float64)
        if lm.ndim != 2 or lm.shape[0] != N_LANDMARKS or lm.shape[1] < 2:
            raise ValueError(f"texture_landmarks_px must be (478, 2), got shape {lm.shape}")
        can = canonical if canonical is not None else _load_npz("canonical_face.npz")
        self.reference_state = reference_state or FaceState()
        self._face_scale = float(face_scale)
        self._texture_landmarks = lm[:, :2].copy()
        self._mesh, self._atlas, self._background_src = self._build(
            tex,
            self._texture_landmarks,
            np.asarray(can["vertices_cm"], float) * face_scale,
            np.asarray(can["triangles"], np.int32),
        )
        self._background_cache: dict[CameraIntrinsics, U8] = {}

    # -- construction -----------------------------------------------------------------------

    @classmethod
    def astronaut(cls, **kwargs: Any) -> FaceRenderer:
        """The default renderer: ``skimage.data.astronaut()`` and its packaged landmarks."""
        from skimage import data

        lm = _load_npz("astronaut_face.npz")["points_px"]
        return cls(data.astronaut(), lm, **kwargs)

    @staticmethod
    def _build(tex: U8, lm: F64, verts: F64, tris: NDArray[np.int32]) -> tuple[_Mesh, U8, U8]:
        h, w = tex.shape[:2]
        uv = lm[:N_MESH].copy()
        # canonical (x, y) cm -> photo px, frontal orthographic: gives texture coordinates to the
        # vertices that have no landmark (skirt) and the photo's pixels per centimetre.
        sim = _similarity_2d(verts[:, :2] * [1.0, -1.0], uv)
        px_per_cm = float(math.hypot(sim[0, 0], sim[1, 0]))

        # --- the mouth: drop the mesh's triangles across the lip gap, add teeth + cavity ---
        inner_upper = [MOUTH_INNER_CORNERS[0], *MOUTH_INNER_UPPER, MOUTH_INNER_CORNERS[1]]
        inner_lower = [MOUTH_INNER_CORNERS[0], *MOUTH_INNER_LOWER, MOUTH_INNER_CORNERS[1]]
        lip_set = set(inner_upper) | set(inner_lower)
        gap = np.array([all(int(v) in lip_set for v in t) for t in tris])
        face_tris = tris[~gap]

        rest = [verts]
        uvs = [uv]
        n = N_MESH
        # teeth edges: for each inner-lip column, two new vertices on the rest lip gap
        up = np.array(MOUTH_INNER_UPPER)
        lo = np.array(MOUTH_INNER_LOWER)
        f = UPPER_TEETH_FRACTION
        upper_edge = verts[up] + f * (verts[lo] - verts[up])
        upper_edge_uv = uv[up] + f * (uv[lo] - uv[up])
        k = len(up)
        upper_ids = np.arange(n, n + k)
        lower_ids = np.arange(n + k, n + 2 * k)
        rest += [upper_edge, upper_edge.copy()]  # at rest both edges coincide: cavity is empty
        uvs += [upper_edge_uv, upper_edge_uv.copy()]
        n += 2 * k
        # a dark cavity patch appended under the photo in the atlas
        patch_h = 32
        cavity_top_uv = np.array([w / 2.0, h + 4.0])
        cavity_bot_uv = np.array([w / 2.0, h + patch_h - 4.0])
        cav_top = np.arange(n, n + k)
        cav_bot = np.arange(n + k, n + 2 * k)
        rest += [upper_edge, upper_edge.copy()]
        uvs += [np.tile(cavity_top_uv, (k, 1)), np.tile(cavity_bot_uv, (k, 1))]
        n += 2 * k
        c0, c1 = MOUTH_INNER_CORNERS

        def strip(top: list[int], bottom: list[int]) -> list[tuple[int, int, int]]:
            """Triangles between two rows that share the corner vertices (CCW seen from +z:
            x grows to the right, y up, so top-left -> bottom-left -> bottom-right)."""
            out: list[tuple[int, int, int]] = []
            for i in range(len(top) - 1):
                a, b, c, d = top[i], top[i + 1], bottom[i], bottom[i + 1]
                if a == c:
                    out.append((a, d, b))
                elif b == d:
                    out.append((a, c, b))
                else:
                    out += [(a, c, d), (a, d, b)]
            return out

        ue = [c0, *upper_ids.tolist(), c1]
        le = [c0, *lower_ids.tolist(), c1]
        ct = [c0, *cav_top.tolist(), c1]
        cb = [c0, *cav_bot.tolist(), c1]
        interior = strip(ct, cb) + strip(inner_upper, ue) + strip(le, inner_lower)
        # corners: the cavity's corner vertices are the lip corners but texture from the photo;
        # give the cavity its own corner copies so it samples the dark patch everywhere.
        cav_c = np.arange(n, n + 2)
        rest.append(verts[[c0, c1]])
        uvs.append(np.tile([w / 2.0, h + patch_h / 2.0], (2, 1)))
        n += 2
        interior_arr = np.array(interior, dtype=np.int32)
        cav_mask = np.isin(interior_arr, np.concatenate([cav_top, cav_bot])).any(axis=1)[:, None]
        interior_arr[cav_mask & (interior_arr == c0)] = cav_c[0]
        interior_arr[cav_mask & (interior_arr == c1)] = cav_c[1]

        # --- skirt rings around the face oval ---
        loop = _boundary_loop(tris)
        centre = verts[:N_MESH, :2].mean(0)
        skirt_rows = [np.array(loop)]
        lin = sim[:, :2]
        for offset, depth in SKIRT_RINGS_CM:
            d2 = verts[loop, :2] - centre
            d2 /= np.linalg.norm(d2, axis=1, keepdims=True)
            ring = verts[loop].copy()
            ring[:, :2] += d2 * offset
            ring[:, 2] -= depth
            ring_uv = uv[loop] + (d2 * offset * [1.0, -1.0]) @ lin.T
            ids = np.arange(n, n + len(loop))
            rest.append(ring)
            uvs.append(ring_uv)
            n += len(loop)
            skirt_rows.append(ids)
        skirt: list[tuple[int, int, int]] = []
        m = len(loop)
        for inner, outer in itertools.pairwise(skirt_rows):
            for i in range(m):
                j = (i + 1) % m
                # the loop runs in the boundary edge's direction (a->b, face on its left when
                # CCW), so the outside is on the right: (a, b_out, b) keeps CCW order.
                skirt += [(inner[i], outer[i], outer[j]), (inner[i], outer[j], inner[j])]
        rest_cm = np.vstack(rest)
        uv_all = np.vstack(uvs)
        all_tris = np.vstack([interior_arr, face_tris, np.array(skirt, np.int32)])
        # orient skirt/interior consistently with the face (CCW from +z at rest, on the xy plane)
        p = rest_cm[all_tris]
        area = np.cross(p[:, 1, :2] - p[:, 0, :2], p[:, 2, :2] - p[:, 0, :2])
        flip = area < 0
        flip[len(interior_arr) : len(interior_arr) + len(face_tris)] = False
        all_tris[flip] = all_tris[flip][:, [0, 2, 1]]

        # --- jaw weights ---
        x, y = rest_cm[:, 0], rest_cm[:, 1]
        ax = np.abs(x)
        corner_x = abs(verts[MOUTH_OUTER_CORNERS[0], 0])
        mouth_y = 0.5 * (verts[13, 1] + verts[14, 1])
        # the jaw line: the lip line, rising from the mouth corners toward the pivot's height
        cut = mouth_y + np.clip(ax - corner_x, 0.0, None) * (JAW_PIVOT_CM[1] - mouth_y) / (
            np.max(np.abs(verts[:, 0])) - corner_x
        )
        band = 0.5 + 0.35 * ax  # narrow at the lips, soft over the cheeks
        jw = _smoothstep(0.5 + (cut - y) / band)
        upper_lip = [*MOUTH_INNER_UPPER, *MOUTH_OUTER_UPPER, *upper_ids.tolist()]
        lower_lip = [*MOUTH_INNER_LOWER, *MOUTH_OUTER_LOWER, *lower_ids.tolist()]
        jw[upper_lip] = 0.0
        jw[lower_lip] = 1.0
        jw[cav_top] = 0.0
        jw[cav_bot] = 1.0
        jw[[*MOUTH_INNER_CORNERS, *MOUTH_OUTER_CORNERS, *cav_c.tolist()]] = 0.5

        # --- eyelids ---
        lid_moves = []
        for side, uppers, lower in (
            ("left", (LEFT_EYE_UPPER0, LEFT_EYE_UPPER1, LEFT_EYE_UPPER2), LEFT_EYE_LOWER0),
            ("right", (RIGHT_EYE_UPPER0, RIGHT_EYE_UPPER1, RIGHT_EYE_UPPER2), RIGHT_EYE_LOWER0),
        ):
            for ring, follow in zip(uppers, LID_RING_FOLLOW):
                lid_moves.append(
                    (np.array(ring), np.array(uppers[0]), np.array(lower), follow, side)
                )

        # --- iris landmarks: carried by the triangle that contains them in texture space ---
        face_only = face_tris
        tri_uv = uv[face_only]
        iris_tri = np.zeros((N_LANDMARKS - N_MESH, 3), np.intp)
        iris_bary = np.zeros((N_LANDMARKS - N_MESH, 3))
        a0 = tri_uv[:, 0]
        e1 = tri_uv[:, 1] - a0
        e2 = tri_uv[:, 2] - a0
        det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
        ok = np.abs(det) > 1e-9
        for i, pt in enumerate(lm[N_MESH:N_LANDMARKS, :2]):
            d = pt - a0
            with np.errstate(divide="ignore", invalid="ignore"):
                b1 = (d[:, 0] * e2[:, 1] - d[:, 1] * e2[:, 0]) / det
                b2 = (e1[:, 0] * d[:, 1] - e1[:, 1] * d[:, 0]) / det
            b0 = 1.0 - b1 - b2
            worst = np.where(ok, np.minimum(np.minimum(b0, b1), b2), -np.inf)
            best = int(np.argmax(worst))  # inside (or nearest to inside)
            iris_tri[i] = face_only[best]
            iris_bary[i] = (b0[best], b1[best], b2[best])

        # --- texture atlas: RGBA photo (alpha fades out across the skirt) + cavity patch ---
        oval_uv = np.round(uv[loop] * 16 - 8).astype(np.int32)
        inside = np.zeros((h, w), np.uint8)
        cv2.fillPoly(inside, [oval_uv], 255, lineType=cv2.LINE_AA, shift=4)
        dist = cv2.distanceTransform(
            np.where(inside > 127, 0, 255).astype(np.uint8), cv2.DIST_L2, 5
        )
        d_in = SKIRT_RINGS_CM[0][0] * px_per_cm
        d_out = SKIRT_RINGS_CM[1][0] * px_per_cm
        alpha = np.clip(1.0 - (dist - d_in) / (d_out - d_in), 0.0, 1.0)
        atlas = np.zeros((h + patch_h, w, 4), np.uint8)
        atlas[:h, :, :3] = tex
        atlas[:h, :, 3] = np.round(alpha * 255).astype(np.uint8)
        top, bot = (np.array(c, float) for c in MOUTH_INTERIOR_RGB)
        g = np.linspace(0.0, 1.0, patch_h)[:, None]
        atlas[h:, :, :3] = np.round(top * (1 - g) + bot * g).astype(np.uint8)[:, None, :]
        atlas[h:, :, 3] = 255

        # --- background: the photo with its face (and the opaque skirt band) inpainted ---
        hole = ((dist <= d_in + 2.0) | (inside > 0)).astype(np.uint8) * 255
        small = cv2.resize(tex, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
        hole_small = cv2.resize(hole, (w // 2, h // 2), interpolation=cv2.INTER_NEAREST)
        filled = cv2.inpaint(small, hole_small, 6, cv2.INPAINT_TELEA)
        filled = cv2.GaussianBlur(
            cv2.resize(filled, (w, h), interpolation=cv2.INTER_LINEAR), (0, 0), 3
        )
        hole_soft = cv2.GaussianBlur(hole.astype(np.float32) / 255.0, (0, 0), 3)[..., None]
        background = np.round(tex * (1 - hole_soft) + filled * hole_soft).astype(np.uint8)

        mesh = _Mesh(
            rest_cm=rest_cm,
            uv_px=uv_all,
            triangles=all_tris.astype(np.int32),
            first_face_tri=len(interior_arr),
            first_skirt_tri=len(interior_arr) + len(face_tris),
            jaw_weight=jw,
            lid_moves=tuple(lid_moves),  # type: ignore[arg-type]
            lower_teeth=lower_ids,
            iris_tri=iris_tri,
            iris_bary=iris_bary,
        )
        for arr in (rest_cm, uv_all, all_tris, jw, iris_tri, iris_bary, atlas, background):
            arr.setflags(write=False)
        return mesh, atlas, background

    # -- geometry ---------------------------------------------------------------------------

    def deformed_vertices_cm(self, state: FaceState) -> F64:
        """(V, 3) mesh vertices in the canonical frame (cm) after eyelids and jaw; the first 468
        are the MediaPipe mesh vertices, the rest are skirt and mouth-interior helpers."""
        m = self._mesh
        v = m.rest_cm.copy()
        rest = m.rest_cm
        for ring, upper0, lower0, follow, side in m.lid_moves:
            c = state.eye_closed_left if side == "left" else state.eye_closed_right
            if c > 0.0:
                v[ring] += (c * follow) * (rest[lower0] - rest[upper0])
        v = self._expressions(state, v)
        if state.jaw_open > 0.0:
            ang = np.radians(JAW_MAX_DEG * state.jaw_open) * m.jaw_weight
            moving = ang > 0.0
            pivot = np.array(JAW_PIVOT_CM) * self._face_scale
            d = v[moving] - pivot
            a = ang[moving]
            c, s = np.cos(a), np.sin(a)
            y = d[:, 1] * c - d[:, 2] * s
            z = d[:, 1] * s + d[:, 2] * c
            v[moving, 1] = pivot[1] + y
            v[moving, 2] = pivot[2] + z
        return v

    def _expressions(self, state: FaceState, v: F64) -> F64:
        """Mouth width/pucker, smile/frown and brows on the rest-plus-lids vertices (cm)."""
        rest = self._mesh.rest_cm
        s = self._face_scale
        if state.mouth_wide != 0.0:
            centre = 0.5 * (rest[MOUTH_OUTER_CORNERS[0]] + rest[MOUTH_OUTER_CORNERS[1]])
            d = rest[:, :2] - centre[:2]
            w = np.exp(-np.sum(d * d, axis=1) / (2.0 * (MOUTH_FALLOFF_CM * s) ** 2))
            gain = MOUTH_WIDE_MAX if state.mouth_wide > 0.0 else MOUTH_NARROW_MAX
            v[:, 0] += gain * state.mouth_wide * d[:, 0] * w
            if state.mouth_wide < 0.0:
                v[:, 2] += -state.mouth_wide * PUCKER_FORWARD_CM * s * w
                v[:, 1] -= 0.25 * state.mouth_wide * d[:, 1] * w  # lips purse vertically a little
        for corner, amount, sign in ((MOUTH_OUTER_CORNERS[1], state.smile_left, 1.0), (MOUTH_OUTER_CORNERS[0], state.smile_right, -1.0)):
            if amount != 0.0:
                d = rest[:, :2] - rest[corner, :2]
                w = np.exp(-np.sum(d * d, axis=1) / (2.0 * (SMILE_FALLOFF_CM * s) ** 2))
                v[:, 1] += amount * SMILE_RAISE_CM * s * w
                if amount > 0.0:
                    v[:, 0] += sign * amount * 0.35 * SMILE_RAISE_CM * s * w
        for side, amount in (("left", state.brow_raise_left), ("right", state.brow_raise_right)):
            if amount != 0.0:
                ids = np.array(BROW_IDS[side])
                centre = rest[ids].mean(axis=0)
                d = rest[:, :2] - centre[:2]
                dx = d[:, 0] / 2.5  # the brow is long: an elliptic falloff along it
                w = np.exp(-(dx * dx + d[:, 1] ** 2) / (2.0 * (BROW_FALLOFF_CM * s) ** 2))
                eye = np.array(LEFT_EYE_UPPER0 if side == "left" else RIGHT_EYE_UPPER0)
                below = rest[:, 1] < rest[eye, 1].max() + 0.3 * s  # the eye itself stays put
                w[below] = 0.0
                v[:, 1] += amount * BROW_RAISE_CM * s * w
        return v

    def _gaze_iris(self, state: FaceState, iris: F64) -> F64:
        """The 10 iris landmarks (cm) rotated about their eyeball centres by the gaze angles."""
        if state.gaze_yaw_deg == 0.0 and state.gaze_pitch_deg == 0.0:
            return iris
        q = geometry.from_yaw_pitch_roll(math.radians(state.gaze_yaw_deg), math.radians(state.gaze_pitch_deg), 0.0)
        r = geometry.to_matrix(q)
        out = iris.copy()
        for block in (slice(0, 5), slice(5, 10)):
            centre = iris[block][0] - np.array([0.0, 0.0, EYEBALL_RADIUS_CM * self._face_scale])
            out[block] = (iris[block] - centre) @ r.T + centre
        return out

    def _landmarks_visible(self, state: FaceState, cam: F64) -> NDArray[np.bool_]:
        """Front-facing test per mesh vertex (area-weighted normals of the face triangles)."""
        m = self._mesh
        tri = m.triangles[m.first_face_tri : m.first_skirt_tri]
        p = cam[tri]
        n = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])  # CCW from the front: points out
        vn = np.zeros((len(cam), 3))
        for k in range(3):
            np.add.at(vn, tri[:, k], n)
        # OpenCV camera: the eye is at the origin, so a surface faces it when n . p < 0
        facing = np.einsum("ij,ij->i", vn[:N_MESH], cam[:N_MESH]) < 0.0
        iris = facing[m.iris_tri].all(axis=1)
        eye_open = np.array(
            [state.eye_closed_right < 0.5] * 5 + [state.eye_closed_left < 0.5] * 5
        )  # MediaPipe's iris order: 468-472 the subject's right eye, 473-477 the left
        return np.concatenate([facing, iris & eye_open])

    def _landmarks_cm(self, v: F64, state: FaceState | None = None) -> F64:
        m = self._mesh
        iris = np.einsum("ik,ikj->ij", m.iris_bary, v[m.iris_tri])
        if state is not None:
            iris = self._gaze_iris(state, iris)
        return np.vstack([v[:N_MESH], iris])

    @staticmethod
    def _to_camera(state: FaceState, v_cm: F64) -> F64:
        r, t = conventions.internal_head_to_opencv_pose(state.rotation, state.position_m)
        return v_cm @ r.T + t

    @staticmethod
    def _project(camera: CameraIntrinsics, p: F64) -> F64:
        z = p[:, 2]
        return np.stack(
            [camera.fx * p[:, 0] / z + camera.cx, camera.fy * p[:, 1] / z + camera.cy], 1
        )

    def project_landmarks(self, state: FaceState, camera: CameraIntrinsics) -> F64:
        """(478, 2) ground-truth landmark pixels (continuous coordinates) for ``state``."""
        cam = self._to_camera(state, self._landmarks_cm(self.deformed_vertices_cm(state), state))
        return self._project(camera, cam)

    # -- background -------------------------------------------------------------------------

    def background(self, camera: CameraIntrinsics) -> U8:
        """The inpainted photo warped so that its face matches the reference state's projection."""
        bg = self._background_cache.get(camera)
        if bg is None:
            ref = self.project_landmarks(self.reference_state, camera)[:N_MESH]
            sim = _similarity_2d(self._texture_landmarks[:N_MESH], ref)
            # continuous -> OpenCV's pixel-centre convention on both sides
            sim_cv = sim.copy()
            sim_cv[:, 2] += sim[:, :2] @ [0.5, 0.5] - 0.5
            bg = cv2.warpAffine(
                self._background_src,
                sim_cv,
                camera.size,
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REPLICATE,
            )
            bg.setflags(write=False)
            self._background_cache[camera] = bg
        return bg

    # -- rendering --------------------------------------------------------------------------

    def render(self, state: FaceState, camera: CameraIntrinsics) -> U8:
        """(H, W, 3) uint8 RGB image of ``state`` seen by ``camera``."""
        return self.render_with_truth(state, camera).image

    def render_with_truth(self, state: FaceState, camera: CameraIntrinsics) -> RenderResult:
        """Render ``state`` and return the image with its ground truth."""
        m = self._mesh
        v = self.deformed_vertices_cm(state)
        cam = self._to_camera(state, v)
        if np.any(cam[:, 2] <= 1.0):
            raise ValueError("the face is behind or touching the camera")
        px = self._project(camera, cam)
        lm_cam = self._to_camera(state, self._landmarks_cm(v, state))
        lm_px = self._project(camera, lm_cam)
        visible = self._landmarks_visible(state, cam)

        w, h = camera.size
        out = self.background(camera).copy()
        tri = m.triangles
        p = px[tri]  # (T, 3, 2)
        area = (p[:, 1, 0] - p[:, 0, 0]) * (p[:, 2, 1] - p[:, 0, 1]) - (p[:, 1, 1] - p[:, 0, 1]) * (
            p[:, 2, 0] - p[:, 0, 0]
        )
        # Image y points down, so a triangle CCW seen from +z (toward the camera) is clockwise
        # on screen: negative ``area`` means front-facing. Mouth interior and skirt are
        # two-sided (the far side's hair shows behind a turned head).
        idx = np.arange(len(tri))
        interior = idx < m.first_face_tri
        two_sided = interior | (idx >= m.first_skirt_tri)
        keep = (np.abs(area) > 1e-3) & (two_sided | (area < 0.0))
        lo = np.floor(p.min(axis=1))
        hi = np.ceil(p.max(axis=1))
        keep &= (hi[:, 0] >= 0) & (hi[:, 1] >= 0) & (lo[:, 0] < w) & (lo[:, 1] < h)
        depth = cam[tri, 2].mean(axis=1)
        # painter's order: interior first, then far to near
        order_key = np.where(interior, np.inf, depth)
        sel = idx[keep]
        sel = sel[np.argsort(-order_key[sel], kind="stable")]
        if sel.size == 0:
            return RenderResult(out, state, camera, lm_px, lm_cam, visible)

        # per-triangle affine map: continuous screen (x, y, 1) -> atlas pixel (OpenCV centres)
        dst = p[sel]
        src = m.uv_px[tri[sel]] - 0.5
        dh = np.concatenate([dst, np.ones((len(sel), 3, 1))], axis=2)
        aff = np.linalg.solve(dh, src)  # (n, 3, 2)

        # rasterise triangle ids; fillConvexPoly uses pixel centres at integers, fixed point 1/16
        x0 = int(max(0, lo[sel, 0].min()))
        y0 = int(max(0, lo[sel, 1].min()))
        x1 = int(min(w, hi[sel, 0].max() + 1))
        y1 = int(min(h, hi[sel, 1].max() + 1))
        ids = np.zeros((y1 - y0, x1 - x0), np.int32)
        pts = np.round((dst - [x0 + 0.5, y0 + 0.5]) * 16.0).astype(np.int32)
        fill = cv2.fillConvexPoly
        for k in range(len(sel)):
            fill(ids, pts[k], k + 1, cv2.LINE_8, 4)

        yy, xx = np.nonzero(ids)
        a = aff[ids[yy, xx] - 1]
        sx = xx + (x0 + 0.5)
        sy = yy + (y0 + 0.5)
        map_x = np.full(ids.shape, -10.0, np.float32)
        map_y = np.full(ids.shape, -10.0, np.float32)
        map_x[yy, xx] = sx * a[:, 0, 0] + sy * a[:, 1, 0] + a[:, 2, 0]
        map_y[yy, xx] = sx * a[:, 0, 1] + sy * a[:, 1, 1] + a[:, 2, 1]
        layer = cv2.remap(
            self._atlas,
            map_x,
            map_y,
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=(0, 0, 0, 0),
        )
        alpha = layer[:, :, 3:4].astype(np.float32) * (1.0 / 255.0)
        roi = out[y0:y1, x0:x1]
        blended = (
            roi.astype(np.float32) * (1.0 - alpha) + layer[:, :, :3].astype(np.float32) * alpha
        )
        out[y0:y1, x0:x1] = (blended + 0.5).astype(np.uint8)
        return RenderResult(out, state, camera, lm_px, lm_cam, visible)


__all__ = [
    "DEFAULT_DISTANCE_M",
    "DEFAULT_HEIGHT_M",
    "DEFAULT_HFOV_DEG",
    "CameraIntrinsics",
    "FaceRenderer",
    "FaceState",
    "RenderResult",
]
