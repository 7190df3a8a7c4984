"""doctor's look at the time zone database when a job names a zone (tz, CRON_TZ= or the
end of an `on`): a database root written for the test stands for the host's
/usr/share/zoneinfo (the host adapter, host/tzdata.py, takes it as an argument). And its
look at a job that runs only --after another, which has no timer to miss."""

from gpuagent.commands import doctor
from gpuagent.core.paths import resolve_paths
from tests.support.agent import AgentHome

HEAD = 'schema_version = 1\nname = "{name}"\nimage = "img"\ncommand = ["true"]\n\n[schedule]\n'


def write(home: AgentHome, name: str, schedule: str) -> None:
    (home.root / "config" / "jobs").mkdir(exist_ok=True)
    (home.root / "config" / "jobs" / f"{name}.toml").write_text(HEAD.format(name=name) + schedule)


def zone_database(root, *zones: str):
    for zone in ("UTC", *zones):
        (root / zone).parent.mkdir(parents=True, exist_ok=True)
        (root / zone).write_bytes(b"TZif2")
    return root


def findings(home: AgentHome, zoneinfo):
    return [(f.level, f.message, f.fix) for f in doctor.time_zone_findings(resolve_paths(user_mode=False, env=home.env), zoneinfo)]


def test_no_job_names_a_zone_no_finding(tmp_path):
    home = AgentHome(tmp_path / "agent")
    write(home, "plain", 'at = "02:00"\n')
    assert findings(home, tmp_path / "nothing-here") == []


def test_a_host_without_a_zone_database_is_an_error_with_the_fix(tmp_path):
    home = AgentHome(tmp_path / "agent")
    write(home, "shanghai", 'at = "02:00"\ntz = "Asia/Shanghai"\n')
    write(home, "tokyo", 'on = "Sun 03:00 Asia/Tokyo"\n')
    write(home, "berlin", 'cron = "CRON_TZ=Europe/Berlin 0 2 * * *"\n')
    write(home, "plain", 'at = "02:00"\n')
    for missing in (tmp_path / "absent", tmp_path / "empty"):
        (tmp_path / "empty").mkdir(exist_ok=True)
        [(level, message, fix)] = findings(home, missing)
        assert level == "error" and fix == "apt-get install tzdata"
        assert f"no time zone database ({missing}" in message and "job(s) berlin, shanghai, tokyo name a time zone" in message


def test_a_zone_the_database_lacks_is_named_with_its_jobs(tmp_path):
    home = AgentHome(tmp_path / "agent")
    write(home, "shanghai", 'at = "02:00"\ntz = "Asia/Shanghai"\n')
    write(home, "eastern", 'at = "02:00"\ntz = "US/Eastern"\n')
    write(home, "broken", 'at = "02:00"\ntz = "../../etc/passwd"\n')
    root = zone_database(tmp_path / "zoneinfo", "Asia/Shanghai")
    [(level, message, fix)] = findings(home, root)
    assert level == "error" and "has no US/Eastern, which job(s) eastern name" in message and "tzdata-legacy" in fix
    zone_database(root, "US/Eastern")
    [(level, message, _)] = findings(home, root)
    assert level == "ok" and message.endswith("Asia/Shanghai, US/Eastern"), "a name that is not a zone is the job check's to report"


def test_a_job_that_runs_only_after_another_is_not_reported_as_missing_its_timer(tmp_path):
    home = AgentHome(tmp_path / "agent")
    write(home, "evaluate", 'after = "train"\n')
    write(home, "promote", 'after = "evaluate"\nenabled = false\n')
    _, found = doctor._jobs(resolve_paths(user_mode=False, env=home.env))
    assert sorted((f.level, f.message) for f in found) == [
        ("ok", "job evaluate is valid (after train)"),
        ("ok", "job promote is valid (after evaluate, disabled)"),
    ]
