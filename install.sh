#!/usr/bin/env bash
# Install gpuagent on this host: a virtual environment under /opt/gpuagent, the
# `gpuagent` command in /usr/local/bin, the template unit, the config and state
# directories. Safe to run again (it upgrades in place; jobs and history stay).
#   sudo ./install.sh [WHEEL]      install from this checkout, or from a wheel
#   sudo ./install.sh --uninstall  remove the agent; jobs and history stay
set -euo pipefail

PREFIX=/opt/gpuagent
BIN=/usr/local/bin/gpuagent
UNIT_DIR=/etc/systemd/system
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

say() { printf 'install.sh: %s\n' "$*"; }
die() { printf 'install.sh: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (sudo ./install.sh)"

if [ "${1:-}" = "--uninstall" ]; then
    for timer in $(systemctl list-unit-files 'gpuagent@*.timer' --no-legend 2>/dev/null | awk '{print $1}'); do
        systemctl disable --now "$timer" || true
    done
    rm -f "$BIN" "$UNIT_DIR/gpuagent@.service" "$UNIT_DIR"/gpuagent@*.timer
    rm -rf "$PREFIX"
    systemctl daemon-reload 2>/dev/null || true
    say "removed; jobs (/etc/gpuagent) and history (/var/lib/gpuagent) are kept"
    exit 0
fi

python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || die "python3 >= 3.11 is needed (found $(python3 --version 2>&1))"
python3 -c 'import venv, ensurepip' 2>/dev/null || die "python3's venv module is missing: apt-get install python3-venv"
SOURCE="${1:-$HERE}"

[ -x "$PREFIX/bin/python" ] || python3 -m venv "$PREFIX"
"$PREFIX/bin/pip" install --quiet --upgrade "$SOURCE"
ln -sfn "$PREFIX/bin/gpuagent" "$BIN"
install -d -m 0755 /etc/gpuagent /etc/gpuagent/jobs /var/lib/gpuagent
install -m 0644 "$HERE/units/gpuagent@.service" "$UNIT_DIR/gpuagent@.service"
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload
else
    say "warning: systemd is not running here; timers will work once the host runs systemd"
fi
docker version >/dev/null 2>&1 || say "warning: docker is not reachable; runs need dockerd"
command -v nvidia-smi >/dev/null 2>&1 || say "warning: no NVIDIA driver found; only CPU jobs (no --gpus) can run"
say "installed $("$BIN" --version 2>/dev/null || echo gpuagent) at $PREFIX; try: gpuagent --help"
