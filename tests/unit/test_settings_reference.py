"""README.md's job file reference is the settings table, row for row."""

from pathlib import Path

from tests.support.settings_reference import BEGIN, END, reference

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_reference_is_the_settings_table():
    text = README.read_text()
    assert BEGIN in text and END in text, f"README.md lacks the markers {BEGIN!r} ... {END!r}"
    documented = BEGIN + text.split(BEGIN, 1)[1].split(END, 1)[0] + END
    assert documented == reference(), "README.md's job settings differ from the table: paste `python -m tests.support.settings_reference`"


def test_the_reference_names_every_option_and_key():
    table = reference()
    for key in ("`resources.memory`", "`--memory`", "`container.volumes`", "`-v`, `--volume`", "`schedule.cron`"):
        assert key in table
