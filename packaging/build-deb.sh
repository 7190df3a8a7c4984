#!/usr/bin/env bash
# Build a Debian package of gpuagent: dist/gpuagent_VERSION_ARCH.deb.
#
#   packaging/build-deb.sh [--wheelhouse DIR] [--out DIR] [WHEEL]
#
# The package holds a virtual environment at /opt/gpuagent (gpuagent and its
# dependencies, compiled), the command /usr/bin/gpuagent, the units gpuagent ships (the
# template gpuagent@.service, its failure handler gpuagent-on-failure@.service, the
# notebook template gpuagent-notebook@.service, and the queue's gpuagent-queued@.service,
# gpuagent-dispatch@.service and gpuagent-dispatch.timer, and gpuagent-boot.service, which
# closes at boot the runs a host that went down left running) in
# /usr/lib/systemd/system (where Debian policy puts a package's units; local changes go
# in a drop-in, `systemctl edit gpuagent@.service`), and maintainer
# scripts (packaging/debian/) that create /etc/gpuagent and /var/lib/gpuagent, reload
# systemd and write the jobs' timers (`gpuagent sync`), and on removal stop them.
#
# A virtual environment is not relocatable across interpreters: build on the release the
# package is for (its /usr/bin/python3 becomes the package's interpreter, and a
# dependency). The environment is made at a staging path, then every reference to that
# path is rewritten to /opt/gpuagent, and the build fails if any is left.
# Needs python3 with venv (python3-venv) and dpkg-deb; root is not needed.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
PROG=build-deb.sh
PREFIX=/opt/gpuagent
MAINTAINER=${DEB_MAINTAINER:-gpuagent developers <gpuagent@localhost>}

say() { printf '%s: %s\n' "$PROG" "$*"; }
die() {
    printf '%s: error: %s\n' "$PROG" "$*" >&2
    exit 1
}

wheelhouse="" out=$REPO/dist source=$REPO
while [ $# -gt 0 ]; do
    case $1 in
    --wheelhouse | --out)
        [ $# -ge 2 ] && [ -n "$2" ] || die "$1 needs a value"
        if [ "$1" = --out ]; then out=$2; else wheelhouse=$(realpath -e "$2") || die "no directory $2"; fi
        shift
        ;;
    -h | --help)
        sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
        exit 0
        ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) source=$(realpath -e "$1") || die "no file $1" ;;
    esac
    shift
done

command -v dpkg-deb >/dev/null || die "dpkg-deb not found: build on Debian or Ubuntu"
# The interpreter the package's venv will run on: the system's own, by its versioned
# name, so a later change of the default python3 does not break the installed venv.
python=$(realpath -e /usr/bin/python3) || die "/usr/bin/python3 not found: apt-get install python3 python3-venv"
pyver=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || die "gpuagent needs Python >= 3.11; this release has $pyver"
"$python" -c 'import ensurepip' 2>/dev/null || die "python's venv module is missing: apt-get install python$pyver-venv"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/root
venv=$root$PREFIX
pip_index=()
[ -z "$wheelhouse" ] || pip_index=(--no-index --find-links "$wheelhouse")
pip() {
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip --quiet "$@"
}

say "creating the environment ($python)"
"$python" -m venv "$venv"
if [ -d "$source" ]; then
    pip wheel --no-deps "${pip_index[@]}" --wheel-dir "$stage/wheel" "$source"
    wheels=("$stage"/wheel/gpuagent-*.whl)
    source=${wheels[0]}
fi
[[ $source == *.whl ]] || die "$source is neither a wheel nor a gpuagent checkout"
say "installing $(basename "$source") and its dependencies"
pip install --no-compile "${pip_index[@]}" "$source"
pip uninstall --yes pip setuptools # the package is dpkg's to change, not pip's
version=$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("gpuagent"))')

# Relocate: scripts' #! lines, activate scripts and pyvenv.cfg name the staging path.
grep -rlI --null -F "$venv" "$venv" | xargs -0 -r sed -i "s|$venv|$PREFIX|g"
# Byte-code, compiled as it will be found: under /opt/gpuagent.
"$venv/bin/python" -m compileall -q -j 0 -s "$root" "$venv/lib" >/dev/null
if leftovers=$(grep -rl --binary-files=text -F "$root" "$venv"); then
    die "files still name the staging path: $leftovers"
fi

mkdir -p "$root/usr/bin" "$root/usr/lib/systemd/system" "$root/DEBIAN"
ln -s "$PREFIX/bin/gpuagent" "$root/usr/bin/gpuagent"
# Every unit as the package being built ships it (`gpuagent add` and doctor compare
# against the same files): gpuagent/data/ holds them and nothing else.
install -m 0644 "$venv/lib/python$pyver/site-packages/gpuagent/data/"*.{service,timer} "$root/usr/lib/systemd/system/"
install -m 0755 "$HERE"/debian/{postinst,prerm,postrm} "$root/DEBIAN/"
# The Grafana dashboard and the Prometheus alert rules, for the monitoring host to copy.
share=$root/usr/share/gpuagent/monitoring
install -d "$share/grafana" "$share/prometheus"
install -m 0644 "$HERE/../monitoring/grafana/"* "$share/grafana/"
install -m 0644 "$HERE/../monitoring/prometheus/"* "$share/prometheus/"

arch=all
[ -z "$(find "$venv" -name '*.so' -print -quit)" ] || arch=$(dpkg --print-architecture)
# Debian sorts a pre-release before its release only when it follows a tilde.
debversion=$(sed -E 's/\.?(a|b|rc|dev)([0-9]+)/~\1\2/g' <<<"$version")
cat >"$root/DEBIAN/control" <<EOF
Package: gpuagent
Version: $debversion
Architecture: $arch
Maintainer: $MAINTAINER
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Depends: python$pyver, systemd, tzdata
Recommends: docker.io | docker-ce
Suggests: nvidia-container-toolkit
Section: admin
Priority: optional
Description: scheduled GPU training runs, the systemd way
 gpuagent runs training jobs on a GPU server at times set by systemd timers: each run
 is one short-lived container, admitted on free GPU memory, with memory and CPU
 limits, its output in the journal and its outcome in a history database.
EOF
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | xargs -0 md5sum >DEBIAN/md5sums)

mkdir -p "$out"
deb=$out/gpuagent_${debversion}_$arch.deb
dpkg-deb --root-owner-group -Zgzip --build "$root" "$deb" >/dev/null
say "built $deb"
