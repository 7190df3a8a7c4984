"""Every file of this repository that the README, CONTRIBUTING.md or a docs page names
exists: a test or a benchmark that moves must take its mentions with it."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted([ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "CHANGELOG.md", *(ROOT / "docs").rglob("*.md")])
# A path in backticks that starts at one of the repository's top-level folders and ends
# in a file name with its extension, or in a slash (an image name such as gpuagent/example
# is neither).
NAMED_PATH = re.compile(r"`((?:bench|docs|gpuagent|images|monitoring|packaging|tests|units)/[\w./@-]*(?:\.\w+|/))`")


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_path_a_page_names_exists(page):
    missing = sorted({path for path in NAMED_PATH.findall(page.read_text()) if not (ROOT / path).exists()})
    assert not missing, f"{page.relative_to(ROOT)} names paths that are not in the repository: {missing}"
