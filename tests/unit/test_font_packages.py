"""One font list for every way the farm is installed: `make install`, .ci/run and the image.

A page in Chinese, Japanese or Korean, or with emoji, shows boxes where no font has its
glyphs; deploy/fonts-packages.txt is the one list that says which fonts are installed.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FONTS = "deploy/fonts-packages.txt"


def font_packages() -> list[str]:
    return (REPO / FONTS).read_text().split()


def test_the_list_covers_cjk_and_emoji():
    assert {"fonts-noto-cjk", "fonts-noto-color-emoji"} <= set(font_packages())
    assert all(name.startswith("fonts-") for name in font_packages())


def test_the_image_installs_the_list_and_no_font_of_its_own():
    dockerfile = (REPO / "deploy/docker/Dockerfile").read_text()
    copied = re.search(rf"^COPY {re.escape(FONTS)} (\S+)$", dockerfile, re.MULTILINE)
    assert copied, f"the Dockerfile does not COPY {FONTS}"
    assert f"$(cat {copied.group(1)})" in dockerfile
    assert not re.findall(r"\bfonts-(?!packages)[\w-]+", dockerfile)


def test_make_install_and_ci_install_the_list():
    makefile = (REPO / "Makefile").read_text()
    apt_line = next(line for line in makefile.splitlines() if line.startswith("APT_PACKAGES"))
    assert FONTS in apt_line
    assert FONTS in (REPO / ".ci/run").read_text()
    farm_list = (REPO / "deploy/local/apt-packages.txt").read_text().split()
    assert not [name for name in farm_list if name.startswith("fonts-")], "two font lists"
