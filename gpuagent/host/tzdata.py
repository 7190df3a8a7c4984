"""The host's time zone database (Debian's tzdata package): where Python's zoneinfo and
systemd read the zone a job's schedule names (--tz). Without it, or without the zone, such
a job's file does not load and its timer cannot fire at the time it says; doctor asks here."""

from pathlib import Path

ZONEINFO = Path("/usr/share/zoneinfo")
# A zone every tzdata has: a directory without it is not a zone database (a leftover, or
# the directory a container image keeps empty).
ALWAYS_THERE = "UTC"


def has_zone_database(root: Path = ZONEINFO) -> bool:
    return (root / ALWAYS_THERE).is_file()


def has_zone(zone: str, root: Path = ZONEINFO) -> bool:
    """Whether the database holds `zone`, a name already read as one (jobs/schedule.py's
    ZONE_NAME: no '..', no leading '/')."""
    return (root / zone).is_file()
