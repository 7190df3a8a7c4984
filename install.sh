#!/usr/bin/env bash
# install.sh: install, upgrade or remove gpuagent on this host. Run `./install.sh --help`.
#
# What it does, in order, changing only what differs (a second run changes nothing and
# says so): checks python (>= 3.11, with venv), systemd and docker; creates a virtual
# environment and installs gpuagent into it from this checkout or from a wheel; links the
# `gpuagent` command; installs the units it ships (the template service, and the handler
# its OnFailure= starts); creates the job and state directories;
# reloads systemd; writes the jobs' timers from their job files (`gpuagent sync`: after a
# reinstall they are back); runs `gpuagent doctor`, which checks the rest (the NVIDIA
# driver and container toolkit among it: warnings only, since CPU jobs run without them).
# Jobs and history are never touched by an install or an upgrade.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROG=install.sh
EXAMPLE_JOB=example
EVALUATE_JOB="example-evaluate" # runs --after the example: keeps its best checkpoint
RUNTIME_IMAGE=gpuagent/runtime:latest
EXAMPLE_IMAGE=gpuagent/example:latest
EXAMPLE_TIMEOUT=${GPUAGENT_EXAMPLE_TIMEOUT:-3600} # seconds to wait for each example job's first run

usage() {
    cat <<'EOF'
Usage: sudo ./install.sh [OPTIONS] [WHEEL]
       ./install.sh --user [OPTIONS] [WHEEL]

Install gpuagent from this checkout (or from WHEEL), or upgrade it in place: jobs and
history stay, and each job's timer is written from its job file (gpuagent sync). Safe
to run again: it changes only what differs.

  --user             install for yourself: venv in ~/.local/share/gpuagent, the command
                     in ~/.local/bin, systemd user units in ~/.config/systemd/user
  --wheelhouse DIR   install offline: take gpuagent's dependencies (and its build
                     backend) only from the wheels in DIR
  --example          then build the example image (images/) and add its two jobs: the
                     nightly training job "example" (02:00, on a GPU when NVML sees
                     one) and "example-evaluate", which runs after each success of it
                     and keeps the best checkpoint; run the pipeline once now and show
                     both histories
  --base-image IMG   with --example: build the runtime image on IMG instead of the
                     pytorch/pytorch image named in images/runtime/Dockerfile
  --example-dir DIR  with --example: where its checkpoints/ and logs/ go on this host
                     (default: the state directory's example/)
  --uninstall        remove the agent, its units and timers; keep jobs and history
  --purge            remove everything, jobs and history (and the example's data) too
  -h, --help         this text

Environment: PYTHON picks the interpreter (default: /usr/bin/python3, or python3 on
PATH with --user); PIP_* settings reach pip.
EOF
}

# --- output ----------------------------------------------------------------------

say() { printf '%s: %s\n' "$PROG" "$*"; }
warn() { printf '%s: warning: %s\n' "$PROG" "$*" >&2; }
die() {
    printf '%s: error: %s\n' "$PROG" "$1" >&2
    [ $# -lt 2 ] || printf '%s: hint: %s\n' "$PROG" "$2" >&2
    exit 1
}
usage_error() {
    printf '%s: %s (see --help)\n' "$PROG" "$*" >&2
    exit 2
}

CHANGES=0
changed() {
    CHANGES=$((CHANGES + 1))
    say "$*"
}

# --- options -----------------------------------------------------------------------

args=("$@")
mode=system action=install purge=0 example=0
source_arg="" wheelhouse="" base_image="" example_dir=""
while [ $# -gt 0 ]; do
    case $1 in
    --user) mode=user ;;
    --uninstall) action=uninstall ;;
    --purge) action=uninstall purge=1 ;;
    --example) example=1 ;;
    --wheelhouse | --base-image | --example-dir)
        [ $# -ge 2 ] && [ -n "$2" ] || usage_error "$1 needs a value"
        case $1 in
        --wheelhouse) wheelhouse=$2 ;;
        --base-image) base_image=$2 ;;
        --example-dir) example_dir=$2 ;;
        esac
        shift
        ;;
    -h | --help)
        usage
        exit 0
        ;;
    -*) usage_error "unknown option $1" ;;
    *)
        [ -z "$source_arg" ] || usage_error "give at most one WHEEL"
        source_arg=$1
        ;;
    esac
    shift
done
if [ "$action" = uninstall ] && { [ "$example" = 1 ] || [ -n "$source_arg$wheelhouse" ]; }; then
    usage_error "--uninstall and --purge take no WHEEL, --wheelhouse or --example"
fi
if [ "$example" = 0 ] && [ -n "$base_image$example_dir" ]; then
    usage_error "--base-image and --example-dir go with --example"
fi

# --- where things go (the same places gpuagent/core/paths.py uses) ----------------------

if [ "$mode" = system ]; then
    [ "$(id -u)" -eq 0 ] || die "installing for the whole host needs root" "sudo $0 ${args[*]}   (or --user to install for yourself)"
    prefix=/opt/gpuagent
    bin_link=/usr/local/bin/gpuagent
    unit_dir=/etc/systemd/system
    config_dir=/etc/gpuagent
    state_dir=/var/lib/gpuagent
    dir_mode=0755 private_mode=0750
    systemctl=(systemctl)
    lock_file=/run/lock/gpuagent-install.lock
else
    [ "$(id -u)" -ne 0 ] || die "--user installs for the user running it, and this is root" "as root, install for the whole host: drop --user"
    [ -n "${HOME:-}" ] || die "HOME is not set"
    prefix=${XDG_DATA_HOME:-$HOME/.local/share}/gpuagent
    bin_link=$HOME/.local/bin/gpuagent
    unit_dir=${XDG_CONFIG_HOME:-$HOME/.config}/systemd/user
    config_dir=${XDG_CONFIG_HOME:-$HOME/.config}/gpuagent
    state_dir=${XDG_STATE_HOME:-$HOME/.local/state}/gpuagent
    dir_mode=0700 private_mode=0700
    systemctl=(systemctl --user)
    lock_file=${XDG_RUNTIME_DIR:-/tmp}/gpuagent-install-$(id -u).lock
fi
gpuagent=("$prefix/bin/gpuagent" "--$mode")
example_dir=${example_dir:-$state_dir/example}
case $prefix in
*[[:space:]%\\\"\']*) die "cannot install under $prefix: systemd units cannot name a path with spaces, quotes or %" ;;
esac

mkdir -p "$(dirname "$lock_file")"
exec 9>"$lock_file"
flock -n 9 || die "another install.sh is running (lock $lock_file)"
workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT

systemd_up() {
    if [ "$mode" = system ]; then
        [ -d /run/systemd/system ]
    else
        "${systemctl[@]}" show-environment >/dev/null 2>&1
    fi
}

# --- checks --------------------------------------------------------------------------

check_python() {
    # A system install runs on the distribution's python (not one in someone's home, as
    # pyenv's), by its versioned name: a later change of the default python3 leaves the
    # environment working (and a re-run of this script moves it to the new one).
    local wanted=${PYTHON:-python3}
    [ -n "${PYTHON:-}" ] || [ "$mode" = user ] || [ ! -x /usr/bin/python3 ] || wanted=/usr/bin/python3
    if ! python=$(command -v "$wanted"); then
        die "$wanted not found: gpuagent needs Python >= 3.11" "apt-get install python3 python3-venv"
    fi
    python=$(realpath -e "$python")
    pyver=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
        die "gpuagent needs Python >= 3.11; $python is $pyver" "use a newer release (Debian 12, Ubuntu 24.04), or PYTHON=/path/to/python3.11 $0"
    "$python" -c 'import venv, ensurepip' 2>/dev/null && return
    local package=python$pyver-venv
    if [ "$mode" = system ] && command -v apt-get >/dev/null; then
        say "installing $package (python's venv module is missing)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=300 "$package" >/dev/null ||
            die "apt-get install $package failed" "run apt-get update, then this again"
        changed "installed $package"
    else
        die "python's venv module is missing ($python)" "sudo apt-get install $package"
    fi
}

check_systemd() {
    if [ "$mode" = system ]; then
        systemd_up || die "systemd is not running on this host: gpuagent schedules runs with systemd timers" \
            "install it on a host booted with systemd"
        return
    fi
    if ! systemd_up; then
        warn "your systemd user manager is not reachable (no login session, or XDG_RUNTIME_DIR unset): the units load at your next login"
    elif [ "$(loginctl show-user "$(id -un)" -p Linger --value 2>/dev/null)" != yes ]; then
        warn "your timers fire only while you are logged in: sudo loginctl enable-linger $(id -un)"
    fi
}

check_docker() {
    command -v docker >/dev/null ||
        die "docker is not installed: every gpuagent run is a container" "apt-get install docker.io (or Docker's docker-ce)"
    local answer
    if ! answer=$(docker version --format '{{.Server.Version}}' 2>&1); then
        if [ "$mode" = user ]; then
            die "docker's daemon is not reachable as $(id -un): $(tail -n 1 <<<"$answer")" \
                "start it (sudo systemctl start docker) and let yourself use it (sudo usermod -aG docker $(id -un), then log in again)"
        fi
        die "docker's daemon is not reachable: $(tail -n 1 <<<"$answer")" "sudo systemctl enable --now docker"
    fi
    say "docker $answer is reachable"
}

# --- install steps -----------------------------------------------------------------

ensure_dir() { # PATH MODE [UID:GID]
    local path=$1 mode=$2 owner=${3:-}
    if [ ! -d "$path" ]; then
        install -d -m "$mode" "$path"
        [ -z "$owner" ] || chown "$owner" "$path"
        changed "created $path"
        return
    fi
    if [ "$(stat -c %a "$path")" != "${mode#0}" ]; then
        chmod "$mode" "$path"
        changed "set $path to mode $mode"
    fi
    if [ -n "$owner" ] && [ "$(stat -c %u:%g "$path")" != "$owner" ]; then
        chown "$owner" "$path"
        changed "gave $path to $owner"
    fi
}

put_file() { # SOURCE DEST: install SOURCE as DEST (0644, atomically) unless identical
    local src=$1 dest=$2
    if [ -f "$dest" ] && cmp -s "$src" "$dest" && [ "$(stat -c %a "$dest")" = 644 ]; then
        return
    fi
    mkdir -p "$(dirname "$dest")"
    install -m 0644 "$src" "$dest.new"
    mv -f "$dest.new" "$dest"
    changed "wrote $dest"
    units_changed=1
}

installed_version() {
    "$prefix/bin/python" -c 'import importlib.metadata as m; print(m.version("gpuagent"))' 2>/dev/null || true
}

ensure_venv() {
    local have
    if [ -n "$(ls -A "$prefix" 2>/dev/null)" ] && [ ! -f "$prefix/pyvenv.cfg" ]; then
        die "$prefix exists and is not a virtual environment: not touching it" "move it away, then run this again"
    fi
    have=$("$prefix/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true)
    [ "$have" = "$pyver" ] && return
    if [ -f "$prefix/pyvenv.cfg" ]; then
        say "recreating $prefix for python $pyver (it was made for ${have:-a python that is gone})"
        rm -rf "$prefix"
    fi
    mkdir -p "$(dirname "$prefix")"
    "$python" -m venv "$prefix" || die "$python -m venv $prefix failed"
    changed "created the virtual environment $prefix (python $pyver)"
}

pip_index=()
pip() {
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$prefix/bin/python" -m pip --quiet "$@"
}

check_source() { # what to install: a wheel, or a checkout to build one from
    source_path=$(realpath -e "${source_arg:-$HERE}" 2>/dev/null) || die "$source_arg does not exist"
    if [ -f "$source_path" ]; then
        case $source_path in *.whl) return ;; esac
        die "$source_arg is not a wheel (gpuagent-VERSION-py3-none-any.whl)"
    fi
    [ -f "$source_path/pyproject.toml" ] || die "$source_path is neither a wheel nor a gpuagent checkout"
}

wheel_to_install() { # prints the wheel's path, building it from the checkout if need be
    if [ -f "$source_path" ]; then
        printf '%s\n' "$source_path"
        return
    fi
    pip wheel --no-deps "${pip_index[@]}" --wheel-dir "$workdir/wheel" "$source_path" >&2 ||
        die "could not build a wheel from $source_path" "give --wheelhouse DIR when this host has no package index"
    local built=("$workdir"/wheel/gpuagent-*.whl)
    [ -f "${built[0]}" ] || die "pip wheel made no gpuagent wheel from $source_path"
    printf '%s\n' "${built[0]}"
}

install_package() {
    local wheel stamp_file=$prefix/.gpuagent-install stamp old new
    wheel=$(wheel_to_install)
    stamp="$(sha256sum "$wheel" | cut -d' ' -f1) python$pyver"
    old=$(installed_version)
    if [ -n "$old" ] && [ "$(cat "$stamp_file" 2>/dev/null)" = "$stamp" ]; then
        return
    fi
    pip install "${pip_index[@]}" "$wheel" || die "pip could not install $(basename "$wheel")" \
        "give --wheelhouse DIR when this host has no package index"
    new=$(installed_version)
    if [ "$old" = "$new" ]; then # same version, another build: pip kept the old files
        pip install --no-deps --force-reinstall "${pip_index[@]}" "$wheel" || die "pip could not reinstall $(basename "$wheel")"
        changed "reinstalled gpuagent $new (a new build)"
    elif [ -n "$old" ]; then
        changed "upgraded gpuagent $old -> $new"
    else
        changed "installed gpuagent $new into $prefix"
    fi
    printf '%s\n' "$stamp" >"$stamp_file"
}

ensure_link() {
    local target=$prefix/bin/gpuagent
    [ "$(readlink "$bin_link" 2>/dev/null)" = "$target" ] && return
    if [ -e "$bin_link" ] && [ ! -L "$bin_link" ]; then
        die "$bin_link exists and is not gpuagent's link" "move it away, then run this again"
    fi
    mkdir -p "$(dirname "$bin_link")"
    ln -sfn "$target" "$bin_link"
    changed "linked $bin_link -> $target"
    if [ "$mode" = user ]; then
        case ":$PATH:" in *":$(dirname "$bin_link"):"*) ;; *) warn "$(dirname "$bin_link") is not on your PATH" ;; esac
    fi
}

shipped_units() { # DIR: write the units the installed gpuagent ships into DIR, one file each
    mkdir -p "$1"
    "$prefix/bin/python" -c 'import sys
from gpuagent.jobs.units import SHIPPED_UNITS
for unit in SHIPPED_UNITS:
    open(f"{sys.argv[1]}/{unit.name}", "w").write(unit.text())' "$1"
}

install_units() {
    # Each unit as the installed package ships it: `gpuagent add` compares against the
    # same text, so the two never fight over the file.
    local unit name
    shipped_units "$workdir/units" || die "the installed gpuagent does not provide its units"
    for unit in "$workdir"/units/*; do
        name=${unit##*/}
        put_file "$unit" "$unit_dir/$name"
        [ "$mode" = user ] || continue
        # A user manager looks for a bare ExecStart= command in a fixed system search
        # path, never in ~/.local/bin: name the installed command in a drop-in, for every
        # Exec*= line of the unit that runs gpuagent.
        {
            echo "# Written by gpuagent's install.sh --user: systemd does not search ~/.local/bin."
            echo "[Service]"
            awk -v bin="$prefix/bin/gpuagent" '
                /^Exec[A-Za-z]*=gpuagent / { key = substr($0, 1, index($0, "=") - 1)
                                             print key "="; print key "=" bin substr($0, length(key) + 10) }' "$unit"
        } >"$workdir/dropin"
        put_file "$workdir/dropin" "$unit_dir/$name.d/10-install.conf"
    done
}

enable_boot_pass() {
    # gpuagent-boot.service closes, at each boot, the runs a host that went down left
    # running (recorded lost, their containers removed, `lost` notified once): enabled, it
    # runs at boot whether or not a run starts (the run templates start it too).
    local unit=gpuagent-boot.service
    [ "$("${systemctl[@]}" is-enabled "$unit" 2>/dev/null)" != enabled ] || return 0
    if "${systemctl[@]}" enable "$unit" >/dev/null 2>&1; then
        changed "enabled $unit"
    else
        warn "could not enable $unit: a run lost when the host goes down is recorded at its job's next run (\`${systemctl[*]} enable $unit\`)"
    fi
}

ensure_state_dirs() {
    local owner=""
    [ "$mode" = user ] || owner=0:0
    ensure_dir "$config_dir" "$dir_mode" ${owner:+"$owner"}
    ensure_dir "$config_dir/jobs" "$dir_mode" ${owner:+"$owner"}
    ensure_dir "$state_dir" "$private_mode" ${owner:+"$owner"}
}

reload_systemd() {
    [ "${units_changed:-0}" = 1 ] || return 0
    if systemd_up; then
        "${systemctl[@]}" daemon-reload || die "systemctl daemon-reload failed"
        say "reloaded systemd"
    fi
}

sync_timers() {
    # The job files are the truth: `gpuagent sync` writes each job's timer from its file
    # (after a reinstall, which removed them, they come back) and removes those of jobs
    # that are gone. Its "wrote" and "removed" lines are changes of this run.
    local output line status=0
    if ! "${gpuagent[@]}" sync --help >/dev/null 2>&1; then
        say "this gpuagent has no sync command yet: timers left as they are"
        return
    fi
    if ! systemd_up; then
        warn "systemd is not reachable: the jobs' timers are written by \`gpuagent sync\` once it is"
        return
    fi
    output=$("${gpuagent[@]}" sync 2>&1) || status=$?
    while IFS= read -r line; do
        case $line in
        wrote\ * | removed\ *) changed "sync: $line" ;;
        *) say "sync: $line" ;;
        esac
    done <<<"$output"
    [ "$status" = 0 ] || warn "gpuagent sync reported problems (above): fix those job files, then run \`gpuagent sync\`"
}

run_doctor() {
    if ! "${gpuagent[@]}" doctor --help >/dev/null 2>&1; then
        say "this gpuagent has no doctor command yet: host check skipped"
        return
    fi
    say "checking the host: gpuagent doctor"
    "${gpuagent[@]}" doctor || warn "gpuagent doctor reported problems (above): runs may fail until they are fixed"
}

do_install() {
    check_source
    check_python
    check_systemd
    check_docker
    if [ -n "$wheelhouse" ]; then
        [ -d "$wheelhouse" ] || die "--wheelhouse $wheelhouse is not a directory"
        pip_index=(--no-index --find-links "$(realpath "$wheelhouse")")
    fi
    ensure_venv
    install_package
    ensure_link
    install_units
    ensure_state_dirs
    reload_systemd
    enable_boot_pass
    sync_timers
    run_doctor
    local version
    version=$(installed_version)
    if [ "$CHANGES" -eq 0 ]; then
        say "nothing to change: gpuagent $version is installed and up to date ($prefix)"
    else
        say "gpuagent $version is installed ($prefix, $CHANGES change(s)); try: gpuagent --help"
    fi
}

# --- the example job -----------------------------------------------------------------

docker_build() { # TAG DIR [BUILD ARGS...]
    local tag=$1 dir=$2 output
    shift 2
    if ! output=$(docker build --quiet --tag "$tag" "$@" "$dir" 2>&1); then
        printf '%s\n' "$output" >&2
        die "docker build of $tag failed (above)"
    fi
}

example_gpus() { # how many GPUs NVML sees, as gpuagent would (0 without a driver)
    "$prefix/bin/python" -c 'import pynvml; pynvml.nvmlInit(); print(pynvml.nvmlDeviceGetCount())' 2>/dev/null || echo 0
}

unit_property() { # UNIT PROPERTY
    "${systemctl[@]}" show -P "$2" "$1"
}

job_exists() { # JOB
    "${gpuagent[@]}" show "$1" >/dev/null 2>&1
}

add_example_job() { # JOB ADD-ARGS...: add JOB unless it exists (then it is kept as it is)
    local job=$1
    shift
    if job_exists "$job"; then
        say "job $job exists: kept as it is"
        return
    fi
    "${gpuagent[@]}" add "$job" "$@" || die "gpuagent add $job failed (above)"
}

wait_for_run() { # JOB INVOCATION: until a run of JOB's unit other than INVOCATION has ended
    local unit="gpuagent@$1.service" deadline=$((SECONDS + EXAMPLE_TIMEOUT)) state
    while :; do
        state=$(unit_property "$unit" ActiveState)
        if [ "$(unit_property "$unit" InvocationID)" != "$2" ] && { [ "$state" = inactive ] || [ "$state" = failed ]; }; then
            return
        fi
        [ "$SECONDS" -lt "$deadline" ] || die "the $1 run still runs after ${EXAMPLE_TIMEOUT}s" "see gpuagent logs $1"
        sleep 1
    done
}

newest_run() { # JOB: its newest run's id and status
    "${gpuagent[@]}" history "$1" --limit 1 --json | "$prefix/bin/python" -c 'import json, sys
run = json.load(sys.stdin)["runs"][0]
print(run["run_id"], run["status"])'
}

evaluation_status() { # RUN-ID: the status of the evaluation that run's success started ("" before it starts)
    "${gpuagent[@]}" history "$EVALUATE_JOB" --json | "$prefix/bin/python" -c 'import json, sys
runs = json.load(sys.stdin)["runs"]
print(next((run["status"] for run in runs if run.get("upstream_run_id") == sys.argv[1]), ""))' "$1"
}

wait_for_evaluation() { # RUN-ID: until the evaluation that run's success started has ended
    # Found in history, not by its unit: a unit with no timer is unloaded once it ends.
    local deadline=$((SECONDS + EXAMPLE_TIMEOUT)) status
    while status=$(evaluation_status "$1") && { [ -z "$status" ] || [ "$status" = running ]; }; do
        [ "$SECONDS" -lt "$deadline" ] || die "$EVALUATE_JOB has not finished ${EXAMPLE_TIMEOUT}s after $EXAMPLE_JOB" "see gpuagent logs $EVALUATE_JOB"
        sleep 1
    done
    "${gpuagent[@]}" history "$EVALUATE_JOB"
    [ "$status" = succeeded ] || die "the $EVALUATE_JOB run did not succeed" "see gpuagent logs $EVALUATE_JOB"
}

run_example() {
    local images=$HERE/images owner job_args=() checkpoints before run_id status
    [ -f "$images/runtime/Dockerfile" ] || die "--example needs images/ beside install.sh (a gpuagent checkout)"
    say "building $RUNTIME_IMAGE on ${base_image:-the pytorch/pytorch image (a download of several GB the first time)}"
    docker_build "$RUNTIME_IMAGE" "$images/runtime" ${base_image:+--build-arg "BASE_IMAGE=$base_image"}
    say "building $EXAMPLE_IMAGE"
    docker_build "$EXAMPLE_IMAGE" "$images/example" --build-arg "RUNTIME_IMAGE=$RUNTIME_IMAGE"

    # The container runs as the image's own (non-root) user, or as you with --user: the
    # host directories it writes must be theirs.
    if [ "$mode" = system ]; then
        owner=$(docker image inspect --format '{{.Config.User}}' "$EXAMPLE_IMAGE")
        [[ $owner =~ ^[0-9]+:[0-9]+$ ]] || die "$EXAMPLE_IMAGE runs as '$owner', not a numeric UID:GID"
    else
        owner=$(id -u):$(id -g)
        job_args+=(--user "$owner")
    fi
    ensure_dir "$example_dir" 0755
    ensure_dir "$example_dir/checkpoints" 0755 "$owner"
    ensure_dir "$example_dir/logs" 0755 "$owner"

    if ! job_exists "$EXAMPLE_JOB" || ! job_exists "$EVALUATE_JOB"; then
        if [ "$(example_gpus)" -gt 0 ]; then
            job_args+=(--gpus 1)
            say "NVML sees a GPU: the example trains and evaluates on one"
        else
            say "NVML sees no GPU: the example trains and evaluates on the CPU"
        fi
    fi
    checkpoints="$example_dir/checkpoints:/checkpoints"
    add_example_job "$EXAMPLE_JOB" --at 02:00 --image "$EXAMPLE_IMAGE" "${job_args[@]}" \
        -v "$checkpoints" -v "$example_dir/logs:/logs" -- python /opt/example/train.py
    add_example_job "$EVALUATE_JOB" --after "$EXAMPLE_JOB" --image "$EXAMPLE_IMAGE" "${job_args[@]}" \
        -v "$checkpoints" -- python /opt/example/evaluate.py

    # The example's success starts the evaluation (its --after): wait for both.
    before=$(unit_property "gpuagent@$EXAMPLE_JOB.service" InvocationID)
    "${gpuagent[@]}" trigger "$EXAMPLE_JOB" >/dev/null || die "gpuagent trigger $EXAMPLE_JOB failed (above)"
    say "running $EXAMPLE_JOB once now, then $EVALUATE_JOB after it (follow them: gpuagent logs $EXAMPLE_JOB, gpuagent logs $EVALUATE_JOB)"
    wait_for_run "$EXAMPLE_JOB" "$before"
    "${gpuagent[@]}" history "$EXAMPLE_JOB"
    read -r run_id status < <(newest_run "$EXAMPLE_JOB") || die "no run of $EXAMPLE_JOB in history" "see gpuagent logs $EXAMPLE_JOB"
    [ "$status" = succeeded ] || die "the example run did not succeed" "see gpuagent logs $EXAMPLE_JOB"
    wait_for_evaluation "$run_id"
    say "the example trained and saved its checkpoint in $example_dir/checkpoints, and $EVALUATE_JOB kept the best as best.pt there;" \
        "it runs again nightly at 02:00, and $EVALUATE_JOB after each success (gpuagent list)"
}

# --- uninstall -------------------------------------------------------------------------

do_uninstall() {
    local up=0 timer unit
    systemd_up && up=1
    if [ "$up" = 1 ]; then
        # The queue's timer first, so that nothing starts a queued run meanwhile.
        "${systemctl[@]}" disable --now gpuagent-dispatch.timer >/dev/null 2>&1 || true
        "${systemctl[@]}" disable gpuagent-boot.service >/dev/null 2>&1 || true
        # Stop runs and notebooks first: their ExecStopPost= needs the agent still installed.
        for unit in $("${systemctl[@]}" list-units --plain --no-legend --state=active,activating 'gpuagent@*.service' 'gpuagent-notebook@*.service' 'gpuagent-queued@*.service' | awk '{print $1}'); do
            "${systemctl[@]}" stop "$unit" && changed "stopped $unit"
        done
        # A run stopped so fails, and starts its failure handler: stop those too (a
        # stopped run has notified itself), before the agent they run is gone.
        "${systemctl[@]}" stop 'gpuagent-on-failure@*.service' || true
    fi
    for timer in "$unit_dir"/gpuagent@*.timer; do
        [ -e "$timer" ] || continue
        unit=${timer##*/}
        [ "$up" = 0 ] || "${systemctl[@]}" disable --now "$unit" >/dev/null 2>&1 || true
        rm -f "$timer" "$unit_dir/timers.target.wants/$unit"
        changed "removed timer $unit"
    done
    # The units the installed gpuagent ships, and those this installer's does (the
    # installed one may no longer run: its python gone).
    shipped_units "$workdir/units" 2>/dev/null || true
    for unit in $(printf '%s\n' "$workdir"/units/* "$HERE"/units/* | sed 's|.*/||' | sort -u); do
        [ "$unit" != "*" ] || continue
        if [ -e "$unit_dir/$unit" ] || [ -d "$unit_dir/$unit.d" ]; then
            rm -rf "${unit_dir:?}/$unit" "$unit_dir/$unit.d" "$unit_dir"/*.wants/"$unit"
            changed "removed $unit_dir/$unit"
        fi
    done
    if [ -L "$bin_link" ] && [ "$(readlink "$bin_link")" = "$prefix/bin/gpuagent" ]; then
        rm -f "$bin_link"
        changed "removed $bin_link"
    fi
    if [ -f "$prefix/pyvenv.cfg" ]; then
        rm -rf "$prefix"
        changed "removed $prefix"
    elif [ -e "$prefix" ]; then
        warn "$prefix is not a virtual environment: left in place"
    fi
    if [ "$up" = 1 ]; then
        "${systemctl[@]}" daemon-reload
        "${systemctl[@]}" reset-failed 'gpuagent@*' 'gpuagent-on-failure@*' 'gpuagent-queued@*' 2>/dev/null || true
    fi
    if [ "$purge" = 1 ]; then
        local dir
        for dir in "$config_dir" "$state_dir" "$example_dir"; do
            [ -e "$dir" ] || continue
            rm -rf "$dir"
            changed "removed $dir"
        done
    fi
    if [ "$CHANGES" -eq 0 ]; then
        say "nothing to remove: gpuagent is not installed here"
    elif [ "$purge" = 1 ]; then
        say "gpuagent is removed, with its jobs and history"
    else
        say "gpuagent is removed; jobs ($config_dir) and history ($state_dir) are kept (--purge removes them)"
    fi
}

if [ "$action" = uninstall ]; then
    do_uninstall
else
    do_install
    [ "$example" = 0 ] || run_example
fi
