"""Calibration boards: their geometry, a printable sheet (PNG or PDF at true size), and finding
them in camera images.

Two kinds:

- ``charuco`` (default): a chessboard whose white squares hold ArUco markers. Every corner is
  identified, so a board partly out of view, or seen at a steep angle, still counts; this is what
  lets the image corners (where distortion is strongest) be covered.
- ``checkerboard``: plain black and white squares; the whole board must be in view.

Object points are in metres on the board plane (z = 0), x to the right and y down the printed
sheet, origin at the board's top-left corner.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from vtuber.errors import ConfigError

PAPER_MM: dict[str, tuple[float, float]] = {  # landscape (width, height)
    "a4": (297.0, 210.0),
    "letter": (279.4, 215.9),
    "a3": (420.0, 297.0),
}
MIN_MARGIN_MM = 10.0  # printers cannot print to the edge
CAPTION_MM = 16.0  # the strip under the board that carries the printed description
MIN_CHARUCO_CORNERS = 6  # fewer (or collinear ones) do not constrain a homography well
SUBPIX_WINDOW_FRACTION = 0.06  # half-window of the ChArUco corner refinement, per square side in pixels
ARUCO_DICTIONARIES = ("DICT_4X4_50", "DICT_4X4_100", "DICT_5X5_100", "DICT_6X6_250")


@dataclass(frozen=True, slots=True)
class BoardSpec:
    """A calibration board.

    Attributes:
        kind: ``charuco`` or ``checkerboard``.
        squares_x, squares_y: squares across and down (inner corners are one fewer each way).
        square_mm: printed side of one square, millimetres (measure it on the print!).
        marker_mm: ChArUco marker side, millimetres (ignored for checkerboards).
        dictionary: the ArUco dictionary of a ChArUco board.
    """

    kind: str = "charuco"
    squares_x: int = 8
    squares_y: int = 6
    square_mm: float = 28.0
    marker_mm: float = 21.0
    dictionary: str = "DICT_4X4_50"

    def __post_init__(self) -> None:
        if self.kind not in ("charuco", "checkerboard"):
            raise ConfigError(f"board kind must be charuco or checkerboard, got {self.kind!r}")
        if self.squares_x < 3 or self.squares_y < 3:
            raise ConfigError(f"a board needs at least 3x3 squares, got {self.squares_x}x{self.squares_y}")
        if not self.square_mm > 0:
            raise ConfigError(f"square size must be positive, got {self.square_mm} mm")
        if self.kind == "charuco":
            if not 0 < self.marker_mm < self.square_mm:
                raise ConfigError(f"marker size must be between 0 and the square size ({self.square_mm} mm), got {self.marker_mm} mm")
            if self.dictionary not in ARUCO_DICTIONARIES:
                raise ConfigError(f"ArUco dictionary must be one of {', '.join(ARUCO_DICTIONARIES)}, got {self.dictionary!r}")
            needed = (self.squares_x * self.squares_y) // 2
            available = int(self.dictionary.rsplit("_", 1)[1])
            if needed > available:
                raise ConfigError(f"a {self.squares_x}x{self.squares_y} ChArUco board needs {needed} markers; {self.dictionary} has {available}")

    @property
    def inner_corners(self) -> tuple[int, int]:
        """(columns, rows) of inner corners, the points that are detected."""
        return self.squares_x - 1, self.squares_y - 1

    @property
    def size_mm(self) -> tuple[float, float]:
        return self.squares_x * self.square_mm, self.squares_y * self.square_mm

    def describe(self) -> str:
        text = f"{self.kind} {self.squares_x}x{self.squares_y} squares of {self.square_mm:g} mm"
        if self.kind == "charuco":
            text += f", markers {self.marker_mm:g} mm {self.dictionary}"
        return text

    def corner_points(self) -> NDArray[np.float32]:
        """All inner corners, metres, in detection-id order (row-major from the top-left)."""
        cols, rows = self.inner_corners
        s = self.square_mm / 1000.0
        xs, ys = np.meshgrid(np.arange(1, cols + 1) * s, np.arange(1, rows + 1) * s)
        return np.stack([xs.ravel(), ys.ravel(), np.zeros(cols * rows)], axis=1).astype(np.float32)


def parse_squares(text: str) -> tuple[int, int]:
    """``"8x6"`` -> (8, 6)."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not m:
        raise ConfigError(f"--squares must look like 8x6 (squares across x down), got {text!r}")
    return int(m.group(1)), int(m.group(2))


def _charuco_board(spec: BoardSpec) -> cv2.aruco.CharucoBoard:
    dictionary = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, spec.dictionary))
    return cv2.aruco.CharucoBoard(
        (spec.squares_x, spec.squares_y), spec.square_mm / 1000.0, spec.marker_mm / 1000.0, dictionary
    )


# ---------------------------------------------------------------- drawing


def render_board(spec: BoardSpec, px_per_mm: float) -> NDArray[np.uint8]:
    """The board alone (no margin), grey levels, ``px_per_mm`` pixels per millimetre."""
    width = round(spec.size_mm[0] * px_per_mm)
    height = round(spec.size_mm[1] * px_per_mm)
    if spec.kind == "charuco":
        return _charuco_board(spec).generateImage((width, height), marginSize=0, borderBits=1)
    xs = (np.arange(width) + 0.5) / px_per_mm // spec.square_mm
    ys = (np.arange(height) + 0.5) / px_per_mm // spec.square_mm
    white = (xs[None, :] + ys[:, None]) % 2 == 1  # the top-left square is black
    return np.where(white, 255, 0).astype(np.uint8)


def render_sheet(spec: BoardSpec, paper: str = "a4", dpi: float = 300.0) -> NDArray[np.uint8]:
    """A printable landscape page: the board centred, a 50 mm check bar and a caption stating
    the sizes, at ``dpi`` (print it at 100 %, "actual size", no fit-to-page)."""
    paper_w, paper_h = paper_size_mm(paper)
    board_w, board_h = spec.size_mm
    if board_w + 2 * MIN_MARGIN_MM > paper_w or board_h + 2 * MIN_MARGIN_MM + CAPTION_MM > paper_h:
        raise ConfigError(
            f"a {board_w:g}x{board_h:g} mm board does not fit {paper.upper()} with margins: use smaller squares (--square-mm) or fewer (--squares)"
        )
    ppm = dpi / 25.4
    page = np.full((round(paper_h * ppm), round(paper_w * ppm)), 255, np.uint8)
    board = render_board(spec, ppm)
    x0 = round((paper_w - board_w) / 2 * ppm)
    y0 = round((paper_h - CAPTION_MM - board_h) / 2 * ppm)
    page[y0 : y0 + board.shape[0], x0 : x0 + board.shape[1]] = board
    # a 50 mm bar under the board: measure it to check the printer kept the scale
    bar_y = y0 + board.shape[0] + round(3 * ppm)
    bar = (x0, bar_y, x0 + round(50 * ppm), bar_y + max(1, round(1.0 * ppm)))
    cv2.rectangle(page, bar[:2], (bar[2] - 1, bar[3] - 1), 0, thickness=-1)
    scale = 2.2 * ppm / 22.0  # FONT_HERSHEY_SIMPLEX capitals are ~22 px high at scale 1: 2.2 mm letters
    thick = max(1, round(scale * 1.6))
    lines = [
        (55.0, 1.2, f"<- 50 mm    vtuber calibration board: {spec.describe()}"),
        (0.0, 6.5, "Print at 100% (actual size, no fit-to-page) and glue flat on stiff card."),
        (0.0, 10.5, "Measure one square: if it is not as stated, pass --square-mm with the measured size."),
    ]
    for dx_mm, dy_mm, line in lines:
        org = (x0 + round(dx_mm * ppm), bar_y + round(dy_mm * ppm))
        cv2.putText(page, line, org, cv2.FONT_HERSHEY_SIMPLEX, scale, 0, thick, cv2.LINE_AA)
    return page


def paper_size_mm(paper: str) -> tuple[float, float]:
    try:
        return PAPER_MM[paper.lower()]
    except KeyError:
        raise ConfigError(f"paper must be one of {', '.join(PAPER_MM)}, got {paper!r}") from None


def write_sheet(spec: BoardSpec, path: str | Path, paper: str = "a4", dpi: float = 300.0) -> Path:
    """Write the printable sheet as ``.png`` (with its dpi recorded) or ``.pdf`` (page size = paper)."""
    out = Path(path)
    suffix = out.suffix.lower()
    if suffix not in (".png", ".pdf"):
        raise ConfigError(f"--board-out must end in .png or .pdf, got {out.name!r}")
    page = render_sheet(spec, paper, dpi)
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".png":
        out.write_bytes(png_bytes(page, dpi))
    else:
        w_mm, h_mm = paper_size_mm(paper)
        out.write_bytes(pdf_bytes(page, w_mm * 72 / 25.4, h_mm * 72 / 25.4))
    return out


def png_bytes(gray: NDArray[np.uint8], dpi: float) -> bytes:
    """PNG with a pHYs chunk, so image viewers and printers know its physical size."""
    ok, buf = cv2.imencode(".png", gray)
    if not ok:  # pragma: no cover - OpenCV always encodes uint8 grey
        raise ConfigError("cannot encode the board as PNG")
    data = buf.tobytes()
    ppm = round(dpi / 0.0254)
    body = b"pHYs" + struct.pack(">IIB", ppm, ppm, 1)
    chunk = struct.pack(">I", 9) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    ihdr_end = 8 + 8 + 13 + 4  # signature, IHDR length+type, IHDR data, CRC
    return data[:ihdr_end] + chunk + data[ihdr_end:]


def pdf_bytes(gray: NDArray[np.uint8], width_pt: float, height_pt: float) -> bytes:
    """A one-page PDF showing ``gray`` over the whole page (``width_pt`` x ``height_pt`` points)."""
    h, w = gray.shape
    image = zlib.compress(np.ascontiguousarray(gray).tobytes(), 9)
    content = f"q {width_pt:.3f} 0 0 {height_pt:.3f} 0 0 cm /Im0 Do Q".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {width_pt:.3f} {height_pt:.3f}] "
            f"/Resources << /XObject << /Im0 4 0 R >> >> /Contents 5 0 R >>"
        ).encode(),
        (
            f"<< /Type /XObject /Subtype /Image /Width {w} /Height {h} /ColorSpace /DeviceGray "
            f"/BitsPerComponent 8 /Filter /FlateDecode /Length {len(image)} >>\nstream\n"
        ).encode()
        + image
        + b"\nendstream",
        f"<< /Length {len(content)} >>\nstream\n".encode() + content + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


# ---------------------------------------------------------------- detection


@dataclass(frozen=True, slots=True)
class Detection:
    """The board corners found in one image.

    Attributes:
        image_size: (width, height) of the image, pixels.
        ids: corner ids (row-major index into ``BoardSpec.corner_points``).
        object_points: (N, 3) board coordinates, metres.
        image_points: (N, 2) pixel positions (sub-pixel).
    """

    image_size: tuple[int, int]
    ids: NDArray[np.int32]
    object_points: NDArray[np.float32]
    image_points: NDArray[np.float32]

    @property
    def count(self) -> int:
        return len(self.ids)


class BoardDetector:
    """Finds one board in images (grey or RGB uint8); reuse it across frames."""

    def __init__(self, spec: BoardSpec) -> None:
        self.spec = spec
        self._corners = spec.corner_points()
        if spec.kind == "charuco":
            self._board = _charuco_board(spec)
            params = cv2.aruco.CharucoParameters()
            params.tryRefineMarkers = True
            detector_params = cv2.aruco.DetectorParameters()
            detector_params.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_SUBPIX
            self._detector = cv2.aruco.CharucoDetector(self._board, params, detector_params)

    def detect(self, image: NDArray[np.uint8]) -> Detection | None:
        """The board's corners, or None when too few are found to constrain a pose."""
        gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        size = (int(gray.shape[1]), int(gray.shape[0]))
        if self.spec.kind == "charuco":
            corners, ids, _marker_corners, _marker_ids = self._detector.detectBoard(gray)
            if ids is None or len(ids) < MIN_CHARUCO_CORNERS:
                return None
            if self._board.checkCharucoCornersCollinear(ids):
                return None
            ids = ids.reshape(-1).astype(np.int32)
            points = self._refine(gray, ids, corners.reshape(-1, 2).astype(np.float32))
            return Detection(size, ids, self._corners[ids], points)
        pattern = self.spec.inner_corners
        flags = cv2.CALIB_CB_NORMALIZE_IMAGE | cv2.CALIB_CB_ACCURACY
        found, corners = cv2.findChessboardCornersSB(gray, pattern, flags=flags)
        if not found:
            return None
        ids = np.arange(pattern[0] * pattern[1], dtype=np.int32)
        return Detection(size, ids, self._corners, corners.reshape(-1, 2).astype(np.float32))

    def _refine(self, gray: NDArray[np.uint8], ids: NDArray[np.int32], points: NDArray[np.float32]) -> NDArray[np.float32]:
        """Sub-pixel ChArUco corners. The detector's own corners sit about half a pixel off (on
        rendered boards with known corners); a saddle-point refinement in a window smaller than
        the gap between a corner and its markers removes that bias."""
        cols = self.spec.inner_corners[0]
        where = {int(i): k for k, i in enumerate(ids)}
        steps = [np.linalg.norm(points[where[i]] - points[where[i + 1]]) for i in where if (i + 1) in where and (i + 1) % cols]
        if not steps:
            return points
        half = int(np.clip(round(SUBPIX_WINDOW_FRACTION * float(np.median(steps))), 2, 6))
        criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_COUNT, 40, 0.001)
        refined = cv2.cornerSubPix(gray, points.reshape(-1, 1, 2).copy(), (half, half), (-1, -1), criteria)
        return refined.reshape(-1, 2).astype(np.float32)
