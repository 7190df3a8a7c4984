#!/usr/bin/env bash
# The test command. Each folder of tests/ is a tier, named by what its tests need (and
# marked so by tests/conftest.py, for `pytest -m`):
#
#   unit     in-process only: spawns nothing, needs nothing but the virtualenv
#   tools    runs programs on this host, no daemon: gpuagent itself, systemd-analyze,
#            linters (shellcheck, hadolint, promtool), dash, setpriv
#   docker   a real dockerd
#   engines  torch, Slurm, Kubernetes, JupyterLab, Chromium, Prometheus
#   systemd  a booted systemd in an nspawn box
#
# The lanes:
#
#   tests/run.sh --fast [PYTEST ARGS...]
#       tests/unit alone, as any user: no root, no host set-up, no dockerd, no systemd.
#       Under a minute on two cores. It needs gcc once, to build the simulated NVML
#       library into .cache/.
#   sudo tests/run.sh --tier TIER [--tier TIER...] [PYTEST ARGS...]
#       the named tiers, on a prepared host.
#   sudo tests/run.sh [PYTEST ARGS...]
#       every tier (what CI runs), on a prepared host.
#
# Every lane brings the virtualenv .venv up to date with the project and its test extra;
# the root lanes first prepare the host (tests/setup-host.sh). Exits with pytest's status,
# and fails when pytest collected nothing (its status 5).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

usage() { echo "usage: $0 [--fast | --tier TIER...] [PYTEST ARGS...]" >&2; exit 2; }

fast=false
tiers=()
while [ $# -gt 0 ]; do
    case $1 in
    --fast) fast=true; shift ;;
    --tier)
        [ $# -ge 2 ] || usage
        [ -d "tests/$2" ] || { echo "tests/run.sh: no tier named '$2' (a folder of tests/)" >&2; exit 2; }
        tiers+=("tests/$2"); shift 2 ;;
    *) break ;;
    esac
done
if $fast; then
    [ ${#tiers[@]} -eq 0 ] || { echo "tests/run.sh: --fast is the unit tier; give --fast or --tier, not both" >&2; exit 2; }
    tiers=(tests/unit)
elif [ "$(id -u)" -ne 0 ]; then
    echo "tests/run.sh: these tiers need root (dockerd, systemd-nspawn): sudo $0 $*, or $0 --fast" >&2
    exit 2
else
    bash tests/setup-host.sh
fi

python=${PYTHON:-python3}
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
    { echo "tests/run.sh: $python is older than 3.11 (set PYTHON=...)" >&2; exit 2; }

# Reinstall only when the project metadata changed (or the venv is new or broken).
stamp=.venv/.gpuagent-test-install
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if ! .venv/bin/python -c '' 2>/dev/null; then
    echo "run.sh: creating .venv"
    rm -rf .venv
    "$python" -m venv .venv
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "run.sh: installing gpuagent and its test dependencies into .venv"
    .venv/bin/python -m pip install -qq --disable-pip-version-check -e '.[test]'
    echo "$want" >"$stamp"
fi

status=0
.venv/bin/python -m pytest "${tiers[@]}" "$@" || status=$?
if [ "$status" -eq 5 ]; then
    echo "run.sh: pytest collected no tests: failing" >&2
fi
exit "$status"
