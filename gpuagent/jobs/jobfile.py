"""A job file: the TOML text of a job, and the job read back from it.

Each key is a row of jobs/settings.py and holds what the `add` option of the same name
takes, with the row's TOML type: a value of another type is an error naming the key and
the file, never coerced (`command = "python train.py"` is not split into characters). An
unknown key is an error too, and so is a `name` that is not the file's.
"""

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from gpuagent.core.errors import InvalidInput
from gpuagent.jobs import schedule as schedules
from gpuagent.jobs.job import Job, build_job
from gpuagent.jobs.settings import SECTIONS, SETTINGS

SCHEMA_VERSION = 1
HEADER = "# gpuagent job. Change it with `gpuagent add {name} --replace ...` or edit it and run `gpuagent sync`.\n"
_TOP_KEYS = {"schema_version", "name", *SECTIONS, *(s.key for s in SETTINGS if not s.section)}
_SECTION_KEYS = {section: {s.key for s in SETTINGS if s.section == section} for section in SECTIONS}
_SECTION_KEYS["schedule"] |= set(schedules.TABLE_KEYS)
_ENABLED_LINE = re.compile(r"\s*enabled\s*=")


def job_to_toml(job: Job) -> str:
    import tomli_w

    document: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "name": job.name}
    tables: dict[str, dict[str, Any]] = {"schedule": schedules.to_toml(job.schedule)}
    for setting in SETTINGS:
        value = setting.to_toml(getattr(job, setting.field))
        if value is None:
            continue
        if setting.section:
            tables.setdefault(setting.section, {})[setting.key] = value
        else:
            document[setting.key] = value
    document.update((section, tables[section]) for section in SECTIONS if tables.get(section))
    return HEADER.format(name=job.name) + tomli_w.dumps(document)


def job_from_toml(text: str, source: Path) -> Job:
    """Parse and validate a job file's text; every problem is an InvalidInput naming the
    file. Nothing here looks at the host: jobs/catalog.py does that."""
    import tomllib

    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InvalidInput(f"job file {source}: not valid TOML: {err}", "fix the file, or re-create the job") from None
    try:
        return _job(document, source)
    except InvalidInput as err:
        message = err.message if err.message.startswith("job file ") else f"job file {source}: {err.message}"
        raise InvalidInput(message, err.hint) from None


def _job(document: dict[str, Any], source: Path) -> Job:
    _check_keys(document, source)
    version = document.get("schema_version")
    if version != SCHEMA_VERSION:
        raise InvalidInput(
            f"schema_version {version!r} is not supported (this gpuagent reads {SCHEMA_VERSION})",
            "upgrade gpuagent, or re-create the job with `gpuagent add --replace`",
        )
    name = document.get("name", source.stem)
    if name != source.stem:
        raise InvalidInput(f"name {name!r} is not the file's name {source.stem!r}", f"rename the file to {name}.toml, or fix name")
    given = {}
    for setting in SETTINGS:
        table = document.get(setting.section, {}) if setting.section else document
        if setting.required and setting.key not in table:
            raise InvalidInput(f"missing key {setting.path!r}", f"add it, e.g. {setting.example()}")
        if setting.key in table:
            setting.check_type(table[setting.key], str(source))
            given[setting.field] = table[setting.key]
    timing = {key: value for key, value in document.get("schedule", {}).items() if key in schedules.TABLE_KEYS}
    return build_job(name, schedules.schedule_from_toml(timing), given, lambda setting: setting.path)


def _check_keys(document: dict[str, Any], source: Path) -> None:
    unknown = [key for key in document if key not in _TOP_KEYS]
    for section, allowed in _SECTION_KEYS.items():
        table = document.get(section, {})
        if not isinstance(table, dict):
            raise InvalidInput(f"{section} must be a table ([{section}]), got {table!r}")
        unknown += [f"{section}.{key}" for key in table if key not in allowed]
    if unknown:
        raise InvalidInput(f"unknown key {unknown[0]!r}", "remove it; docs/reference/job-file.md lists every key")
    if "name" in document and not isinstance(document["name"], str):
        raise InvalidInput(f"name must be a string, got {document['name']!r}")


def with_enabled(text: str, enabled: bool, source: Path) -> str:
    """The job file's text with schedule.enabled set (`enable`/`disable`), changed in place
    so that a file kept by hand (in git, with comments) keeps its lines: `enabled = false`
    goes first under [schedule] (the default, true, is not written). A file laid out
    otherwise (no [schedule] header of its own) is written out whole, as `add` writes it."""
    lines = text.splitlines(keepends=True)
    header = next((index for index, line in enumerate(lines) if line.strip() == "[schedule]"), None)
    if header is not None:
        end = next((index for index in range(header + 1, len(lines)) if lines[index].lstrip().startswith("[")), len(lines))
        kept = [line for line in lines[header + 1 : end] if not _ENABLED_LINE.match(line)]
        edited = "".join([*lines[: header + 1], *([] if enabled else ["enabled = false\n"]), *kept, *lines[end:]])
        if job_from_toml(edited, source).enabled is enabled:
            return edited
    job = job_from_toml(text, source)
    return job_to_toml(replace(job, enabled=enabled))


def zone_named(text: str) -> str | None:
    """The time zone a job file's schedule names (tz, a cron's CRON_TZ= or the end of an
    `on`), read without the zone database, which the file's reading needs: what doctor asks
    the host's database of. None: none, a file that is not TOML, or a name that is not
    one (loading the file says why)."""
    import tomllib

    try:
        table = tomllib.loads(text).get("schedule", {})
    except tomllib.TOMLDecodeError:
        return None
    if not isinstance(table, dict):
        return None
    zone = table.get(schedules.ZONE_KEY)
    for kind in ("cron", "on"):
        if zone is None and isinstance(table.get(kind), str):
            zone = schedules.zone_in_value(kind, table[kind])[1]
    return zone if isinstance(zone, str) and schedules.ZONE_NAME.fullmatch(zone) and zone != "localtime" else None
