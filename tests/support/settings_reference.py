"""The README's job file reference, made from the settings table (model/settings.py).

`python -m tests.support.settings_reference` prints it; tests/unit/test_settings_reference.py
fails when README.md holds anything else between its markers.
"""

from gpuagent.model.schedule import KIND_HELP, ZONE_HELP, ZONE_KEY
from gpuagent.model.settings import BOOLEAN, SETTINGS, Setting

BEGIN = "<!-- job settings: made from gpuagent/model/settings.py -->"
END = "<!-- end of job settings -->"


def _default(setting: Setting) -> str:
    if setting.required:
        return "required"
    if setting.default in (None, ()):
        return "-"
    if setting.kind is BOOLEAN:
        return "`true`" if setting.default else "`false`"
    return f"`{setting.human(setting.default)}`"


def _options(setting: Setting) -> str:
    return ", ".join(f"`{option}`" for option in setting.options) or "arguments after `--`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def reference() -> str:
    rows = ["| key | `add` option | TOML type | default | meaning |", "| --- | --- | --- | --- | --- |"]
    rows += [
        f"| `schedule.{kind}` | `--{kind}` | string | one of the four | {words.removeprefix('Schedule: ')} |" for kind, words in KIND_HELP.items()
    ]
    rows.append(f"| `schedule.{ZONE_KEY}` | `--{ZONE_KEY}` | string | - | {ZONE_HELP} |")
    rows += [
        f"| `{setting.path}` | {_options(setting)} | {setting.kind.words} | {_default(setting)} | {_cell(setting.help)} |" for setting in SETTINGS
    ]
    return "\n".join([BEGIN, *rows, END])


if __name__ == "__main__":
    print(reference())
