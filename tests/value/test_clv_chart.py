"""Hand-drawn SVG charts are well-formed and carry the data."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from clientcore.value.clv import models
from clientcore.value.clv.chart import holdout_svg, tracking_svg, write_svg
from clientcore.value.clv.diagnostics import holdout_report
from clientcore.value.clv.summary import CustomerSummary

NS = "{http://www.w3.org/2000/svg}"


def test_holdout_and_tracking_svg(tmp_path: Path, cdnow_summary: CustomerSummary) -> None:
    s = cdnow_summary
    fit = models.fit("bgnbd", s.frequency, s.recency, s.T)
    report = holdout_report(fit, s.frequency, s.recency, s.T, s.holdout_frequency, 39.0)
    path = write_svg(holdout_svg(report), tmp_path / "holdout.svg")
    root = ET.parse(path).getroot()
    assert root.tag == f"{NS}svg"
    bars = [r for r in root.iter(f"{NS}rect") if r.find(f"{NS}title") is not None]
    assert len(bars) == 16
    grid = np.arange(1.0, 79.0)
    svg = tracking_svg(grid, grid * 50, grid * 49, "tracking", "week")
    lines = list(ET.fromstring(svg).iter(f"{NS}polyline"))
    assert len(lines) == 2
    assert len(lines[0].get("points", "").split()) == 78
