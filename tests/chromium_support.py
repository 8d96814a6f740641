"""Headless Chromium (Debian's `chromium`) for the report tests: does a real browser render a
report with every image?  Each measurement adds a deliberately broken image as a control, so it
is shown able to fail."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _flags(tmp_path: Path) -> list[str]:
    return [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}"]


def rendered_image_widths(html_path: Path, tmp_path: Path) -> tuple[list[int], str]:
    """(decoded width of every <img> after load, -1 if incomplete; the rendered DOM).  The last
    width is the broken control's, which a working probe reports as 0."""
    probe = ('<img id="broken-control" src="data:image/png;base64,AAAA">'
             "<script>window.addEventListener('load', () => { document.body.setAttribute('data-widths', "
             "[...document.images].map(i => i.complete ? i.naturalWidth : -1).join(',')); });</script></body>")
    page = tmp_path / "probe.html"
    page.write_text(Path(html_path).read_text().replace("</body>", probe))
    dom = subprocess.run(_flags(tmp_path) + ["--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    m = re.search(r'data-widths="([-0-9,]*)"', dom)
    assert m, "the probe did not run: " + dom[:300]
    return [int(w) for w in m.group(1).split(",")], dom


def screenshot(html_path: Path, tmp_path: Path, height: int = 4000) -> np.ndarray:
    """RGB pixels (0..255) of the page rendered 1200 pixels wide."""
    from matplotlib.image import imread

    shot = tmp_path / "shot.png"
    subprocess.run(_flags(tmp_path) + [f"--window-size=1200,{height}", f"--screenshot={shot}",
                                       Path(html_path).as_uri()], capture_output=True, timeout=120)
    return (np.asarray(imread(shot))[..., :3] * 255).round()
