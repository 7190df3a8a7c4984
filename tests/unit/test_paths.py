from pathlib import Path

from gpuagent.core.paths import resolve_paths


def test_system_mode_uses_the_fhs_directories():
    paths = resolve_paths(user_mode=False, env={})
    assert paths.job_file("nightly") == Path("/etc/gpuagent/jobs/nightly.toml")
    assert paths.timer_file("nightly") == Path("/etc/systemd/system/gpuagent@nightly.timer")
    assert paths.history_db == Path("/var/lib/gpuagent/history.db")
    assert paths.job_lock("nightly") == Path("/run/gpuagent/job-nightly.lock")


def test_user_mode_uses_xdg_directories():
    env = {"HOME": "/home/ana", "XDG_RUNTIME_DIR": "/run/user/1000"}
    paths = resolve_paths(user_mode=True, env=env)
    assert paths.jobs_dir == Path("/home/ana/.config/gpuagent/jobs")
    assert paths.unit_file("gpuagent@.service") == Path("/home/ana/.config/systemd/user/gpuagent@.service")
    assert paths.history_db == Path("/home/ana/.local/state/gpuagent/history.db")
    assert paths.runtime_dir == Path("/run/user/1000/gpuagent")
    xdg = resolve_paths(user_mode=True, env={**env, "XDG_CONFIG_HOME": "/cfg", "XDG_STATE_HOME": "/st"})
    assert xdg.jobs_dir == Path("/cfg/gpuagent/jobs") and xdg.history_db == Path("/st/gpuagent/history.db")


def test_environment_overrides_win_in_both_modes():
    env = {"GPUAGENT_CONFIG_DIR": "/t/c", "GPUAGENT_STATE_DIR": "/t/s", "HOME": "/home/ana"}
    for user_mode in (False, True):
        paths = resolve_paths(user_mode=user_mode, env=env)
        assert paths.jobs_dir == Path("/t/c/jobs") and paths.history_db == Path("/t/s/history.db")


def test_gpuagent_user_selects_user_mode():
    assert resolve_paths(env={"GPUAGENT_USER": "1", "HOME": "/h"}).user_mode


def test_the_package_unit_directory_is_debians_in_system_mode_only():
    assert resolve_paths(user_mode=False, env={}).package_unit_dir == Path("/usr/lib/systemd/system")
    overridden = resolve_paths(user_mode=False, env={"GPUAGENT_PACKAGE_UNIT_DIR": "/t/lib"})
    assert overridden.unit_places("gpuagent@.service") == (Path("/etc/systemd/system/gpuagent@.service"), Path("/t/lib/gpuagent@.service"))
    user = resolve_paths(user_mode=True, env={"HOME": "/home/ana"})
    assert user.package_unit_dir is None and user.unit_places("gpuagent@.service") == (user.unit_file("gpuagent@.service"),)
