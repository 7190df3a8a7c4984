"""What the agent says as it goes: one line at a time, which the agent's unit sends to the
journal (stderr). Everything that reports progress takes a `Log`."""

from collections.abc import Callable

Log = Callable[[str], None]
