"""A systemd unit file as data: sections of ordered key/value pairs.

Unit files are never built by formatting user text into a template. Every value goes
through `escape_value`, so a `%` (a systemd specifier) or a newline (a new key) cannot
change what the unit means. gpuagent writes no Exec= lines (the service is a shipped
template), so `$` variable expansion never applies to the values it writes.
"""

from dataclasses import dataclass, field

from gpuagent.core.errors import InvalidInput


class UnsafeValue(InvalidInput):
    """A value that cannot be written into a unit file without changing its meaning: an
    input error (exit 2, one line), never a traceback."""


def escape_value(value: str) -> str:
    """`%` -> `%%`, so systemd takes it literally; control characters are refused."""
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        raise UnsafeValue(f"{value!r} holds a control character, which cannot go into a unit file", "remove the line break or tab")
    return value.replace("%", "%%")


@dataclass
class UnitFile:
    header: list[str] = field(default_factory=list)
    sections: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def add(self, section: str, key: str, value: str) -> "UnitFile":
        self.sections.setdefault(section, []).append((key, escape_value(value)))
        return self

    def render(self) -> str:
        lines = [f"# {escape_value(line)}" for line in self.header]
        for name, entries in self.sections.items():
            if lines:
                lines.append("")
            lines.append(f"[{name}]")
            lines.extend(f"{key}={value}" for key, value in entries)
        return "\n".join(lines) + "\n"
