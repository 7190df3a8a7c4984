"""The README is the front door (CONTRIBUTING.md, "The documentation"): short, with the two
set-up commands, the report screenshot and links into docs/; the rest lives in docs/."""

from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_is_at_most_250_lines():
    assert len(README.read_text().splitlines()) <= 250, "move what does not fit a first read into a docs/ page, and link it"


def test_the_readme_gives_the_two_set_up_commands_and_the_screenshot():
    text = README.read_text()
    for needed in ("sudo ./install.sh --example", "sudo tests/run.sh", "](docs/report.png)", "](docs/getting-started.md)"):
        assert needed in text
