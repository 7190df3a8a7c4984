#!/usr/bin/env bash
# The test command: `sudo tests/run.sh [PYTEST ARGS...]`.
# Prepares the host (tests/setup-host.sh), brings the virtualenv .venv up to date with
# the project and its test extra, then runs pytest; exits with pytest's status.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

if [ "$(id -u)" -ne 0 ]; then
    echo "tests/run.sh: the tests need root (dockerd, systemd-nspawn): sudo $0 $*" >&2
    exit 2
fi

bash tests/setup-host.sh

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
.venv/bin/python -m pytest "$@" || status=$?
if [ "$status" -eq 5 ]; then
    echo "run.sh: pytest collected no tests: failing" >&2
fi
exit "$status"
