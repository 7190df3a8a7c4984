#!/usr/bin/env bash
# Prepare this machine for the test suite: host packages, a running dockerd that
# offers GPU requests through the stub NVIDIA hook, and the local test images.
# Idempotent and quick once done; must run as root. Called by tests/run.sh.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

say() { printf 'setup-host: %s\n' "$*"; }
die() { printf 'setup-host: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (try: sudo $0)"

# dockerd inherits this PATH and looks for the hook on it, so make it explicit.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export DEBIAN_FRONTEND=noninteractive

# --- host packages -----------------------------------------------------------
packages=(docker.io systemd-container mmdebstrap busybox-static)
# The monitoring tests start a real Prometheus (with promtool) and node_exporter by hand;
# Debian's packages do not start their daemons here.
packages+=(prometheus prometheus-node-exporter)
# The report test opens gpuagent's HTML page in a real headless browser.
packages+=(chromium)
# The export tests run exported jobs on a real Slurm (one node on loopback, munge for its
# authentication) and a real Kubernetes API server with its CronJob controller, built
# once from Debian's source with Go (its make places binaries with rsync) and stored on etcd.
packages+=(slurm-wlm munge golang-go rsync etcd-server)
python3 -c 'import ensurepip' 2>/dev/null || packages+=(python3-venv)
missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$status" = installed ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    # A failing third-party source makes `update` exit non-zero while Debian's own
    # lists are fine: go on, and let the install say what is really missing.
    apt-get -q -o DPkg::Lock::Timeout=600 update >/dev/null ||
        say "apt-get update reported errors; trying the install anyway"
    apt-get -q -y -o DPkg::Lock::Timeout=600 --no-install-recommends \
        install "${missing[@]}" >/dev/null
else
    say "host packages present"
fi

# --- the stub NVIDIA hook, on dockerd's PATH before dockerd starts ----------------
hook_src=tests/gpu_sim/nvidia-container-runtime-hook
hook_dst=/usr/local/bin/nvidia-container-runtime-hook
[ -f "$hook_src" ] || die "$hook_src is missing"
if ! cmp -s "$hook_src" "$hook_dst"; then
    install -m 0755 "$hook_src" "$hook_dst"
    say "installed $hook_dst"
fi

# --- dockerd -------------------------------------------------------------------
start_dockerd() {
    setsid /usr/sbin/dockerd >/var/log/dockerd.log 2>&1 </dev/null &
    local i
    for i in $(seq 1 300); do
        docker version >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    tail -n 20 /var/log/dockerd.log >&2 || true
    die "dockerd did not answer within 30 s (log: /var/log/dockerd.log)"
}

stop_dockerd() {
    local pid
    pid=$(cat /var/run/docker.pid 2>/dev/null || true)
    [ -n "$pid" ] || die "dockerd is running but /var/run/docker.pid is missing; stop it by hand"
    kill "$pid"
    local i
    for i in $(seq 1 300); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    die "dockerd (pid $pid) did not stop within 30 s"
}

if docker version >/dev/null 2>&1; then
    say "dockerd already running"
else
    say "starting dockerd"
    start_dockerd
fi

# --- test images ----------------------------------------------------------------
python3 -m tests.support.images

# A dockerd started before the hook was on its PATH never registered the GPU
# driver ("could not select device driver"); only a restart fixes that.
busybox=gpuagent-test/busybox:latest
if ! gpu_err=$(docker run --rm --gpus all "$busybox" true 2>&1); then
    case $gpu_err in
    *"could not select device driver"*)
        say "dockerd was started without $hook_dst on its PATH: restarting it"
        stop_dockerd
        start_dockerd
        docker run --rm --gpus all "$busybox" true >/dev/null ||
            die "GPU requests still fail after restarting dockerd"
        ;;
    *) die "trial 'docker run --gpus all' failed: $gpu_err" ;;
    esac
fi
say "dockerd accepts GPU requests (stub hook)"
say "done"
