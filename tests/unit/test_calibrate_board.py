"""The printable board: true physical size in PNG and PDF, and detection of rendered boards."""

from __future__ import annotations

import re
import struct

import cv2
import numpy as np
import pytest

from vtuber.calibrate.board import (
    BoardDetector,
    BoardSpec,
    parse_squares,
    render_board,
    render_sheet,
    write_sheet,
)
from vtuber.errors import ConfigError

A4_PT = (297 * 72 / 25.4, 210 * 72 / 25.4)


def test_png_records_its_dpi_and_has_the_page_size(tmp_path) -> None:
    out = write_sheet(BoardSpec(), tmp_path / "board.png", "a4", 300)
    data = out.read_bytes()
    assert data[12:16] == b"IHDR" and data[37:41] == b"pHYs"
    ppm_x, ppm_y, unit = struct.unpack(">IIB", data[41:50])
    assert unit == 1 and ppm_x == ppm_y == round(300 / 0.0254)
    image = cv2.imread(str(out), cv2.IMREAD_GRAYSCALE)
    assert image.shape == (round(210 / 25.4 * 300), round(297 / 25.4 * 300))


def test_pdf_page_is_a4_and_well_formed(tmp_path) -> None:
    data = write_sheet(BoardSpec(), tmp_path / "board.pdf", "a4", 150).read_bytes()
    assert data.startswith(b"%PDF-1.4") and data.rstrip().endswith(b"%%EOF")
    box = [float(v) for v in re.search(rb"/MediaBox \[([^\]]+)\]", data).group(1).split()]
    assert box[2:] == pytest.approx(A4_PT, abs=0.01)
    xref = int(re.search(rb"startxref\n(\d+)", data).group(1))
    assert data[xref:].startswith(b"xref")
    offsets = [int(m) for m in re.findall(rb"(\d{10}) 00000 n", data)]
    for number, offset in enumerate(offsets, start=1):
        assert data[offset:].startswith(f"{number} 0 obj".encode())


def test_printed_squares_have_the_stated_size() -> None:
    spec = BoardSpec(kind="checkerboard", squares_x=10, squares_y=7, square_mm=24.0)
    dpi = 200.0
    page = render_sheet(spec, "a4", dpi)
    found, corners = cv2.findChessboardCornersSB(page, spec.inner_corners)
    assert found
    grid = corners.reshape(spec.inner_corners[1], spec.inner_corners[0], 2)
    step_px = np.linalg.norm(np.diff(grid, axis=1), axis=2).mean()
    assert step_px / (dpi / 25.4) == pytest.approx(24.0, abs=0.1)


def test_caption_stays_on_the_page() -> None:
    page = render_sheet(BoardSpec(), "a4", 150)
    ink_columns = np.nonzero((page < 128).any(axis=0))[0]
    margin = 10 / 25.4 * 150
    assert ink_columns.min() >= margin - 1 and ink_columns.max() <= page.shape[1] - margin + 1


def test_board_too_big_for_the_paper_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="does not fit A4"):
        render_sheet(BoardSpec(squares_x=12, square_mm=30, marker_mm=20), "a4")


@pytest.mark.parametrize("bad", [{"kind": "circles"}, {"squares_x": 2}, {"marker_mm": 30.0}, {"squares_x": 12, "squares_y": 10}])
def test_bad_board_specs_are_rejected(bad) -> None:
    with pytest.raises(ConfigError):
        BoardSpec(**bad)


def test_parse_squares() -> None:
    assert parse_squares("8x6") == (8, 6)
    with pytest.raises(ConfigError, match="--squares"):
        parse_squares("8 by 6")


@pytest.mark.parametrize("spec", [BoardSpec(), BoardSpec(kind="checkerboard", squares_x=10, squares_y=7, square_mm=24.0)])
def test_flat_board_corners_found_where_drawn(spec: BoardSpec) -> None:
    ppm = 3.0
    image = cv2.copyMakeBorder(render_board(spec, ppm), 30, 30, 30, 30, cv2.BORDER_CONSTANT, value=255)
    image = cv2.GaussianBlur(image, (0, 0), 0.7)
    found = BoardDetector(spec).detect(image)
    assert found is not None and found.count == spec.inner_corners[0] * spec.inner_corners[1]
    expected = found.object_points[:, :2] * 1000 * ppm + 30 - 0.5  # pixel centres at integers
    if spec.kind == "checkerboard":  # the plain board's 180-degree symmetry: either order is right
        flipped = spec.corner_points()[::-1, :2] * 1000 * ppm + 30 - 0.5
        if np.abs(found.image_points - flipped).max() < np.abs(found.image_points - expected).max():
            expected = flipped
    assert np.abs(found.image_points - expected).max() < 0.3
