"""--since WHEN, as `history` and `logs` read it: a moment, or how long ago."""

from datetime import datetime, time, timedelta

from gpuagent.errors import InvalidInput
from gpuagent.model.schedule import parse_duration

_HINT = "write how long ago (30m, 6h, 2d, 1h30m), today, yesterday, a date (2026-01-31) or a local date and time (2026-01-31 02:00)"


def parse_since(text: str, now: datetime) -> datetime:
    """The moment `text` names, an aware datetime; dates and times without a zone are in
    the host's local time. `now` is aware."""
    word = text.strip().lower()
    if word in ("today", "yesterday"):
        day = now.astimezone().date() - timedelta(days=1 if word == "yesterday" else 0)
        return datetime.combine(day, time()).astimezone()
    if word[:1].isdigit() and "-" not in word and ":" not in word:
        try:
            return now - timedelta(seconds=parse_duration(text.strip(), option="--since"))
        except InvalidInput:
            raise InvalidInput(f"--since: cannot read {text!r}", _HINT) from None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"--since: cannot read {text!r}", _HINT) from None
    return moment.astimezone()
