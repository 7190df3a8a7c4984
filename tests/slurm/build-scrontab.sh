#!/usr/bin/env bash
# Build `scrontab` for this host's Slurm and print the binary's path.
#
# Debian bookworm ships slurm-wlm 22.05 without scrontab (trixie has it), yet the
# controller accepts scrontab entries. The tool is four C files over libslurmfull, which
# slurm-client installs, so it is built from Debian's own source of the installed version:
# the same code, against the same library. The binary is cached per Slurm version under
# /var/tmp, so a second run on the same machine costs nothing. Must run as root (apt).
set -euo pipefail

say() { printf 'build-scrontab: %s\n' "$*" >&2; }
die() { printf 'build-scrontab: error: %s\n' "$*" >&2; exit 1; }

version=$(dpkg-query -W -f='${Version}' slurm-client 2>/dev/null) ||
    die "slurm-client is not installed (tests/setup-host.sh installs it)"
cache=/var/tmp/gpuagent-test-cache/scrontab-$version
binary=$cache/scrontab
mkdir -p "$cache"

# One build at a time; a second caller waits, then finds the binary.
exec 9>"$cache/build.lock"
flock 9
if [ -x "$binary" ]; then
    printf '%s\n' "$binary"
    exit 0
fi

[ "$(id -u)" -eq 0 ] || die "must run as root (apt-get source needs the package lists)"
# apt-get source unpacks with dpkg-source.
if ! command -v dpkg-source >/dev/null; then
    say "installing dpkg-dev"
    apt-get -q -y -o DPkg::Lock::Timeout=600 --no-install-recommends install dpkg-dev >/dev/null
fi

work=$(mktemp -d /var/tmp/gpuagent-scrontab.XXXXXX)
trap 'rm -rf "$work"' EXIT

say "fetching the source of slurm-wlm $version"
bash "$(dirname "${BASH_SOURCE[0]}")/../support/debian-source.sh" "$work" "slurm-wlm=$version" ||
    die "apt-get source slurm-wlm=$version failed"

say "building scrontab"
src=$(find "$work" -maxdepth 1 -type d -name 'slurm-wlm-*' | head -n 1)
[ -n "$src" ] || die "the unpacked source is missing"
cd "$src"
# configure warns about every optional library it does not find; none matters here.
./configure -q --prefix=/usr --sysconfdir=/etc/slurm --libdir=/usr/lib/x86_64-linux-gnu \
    >"$work/configure.log" 2>&1 || { tail -n 30 "$work/configure.log" >&2; die "configure failed"; }
cd src/scrontab
for f in env opt parse scrontab; do
    gcc -O2 -DHAVE_CONFIG_H -I../.. -I../../slurm -c "$f.c"
done
# The default crontab and the usage text are linked in as data, as Slurm's Makefile does.
for t in default_crontab usage; do
    ld -r -o "$t.bino" -z noexecstack --format=binary "$t.txt"
    objcopy --rename-section .data=.rodata,alloc,load,readonly,data,contents "$t.bino"
done
lib=/usr/lib/x86_64-linux-gnu/slurm-wlm
gcc -o "$work/scrontab" env.o opt.o parse.o scrontab.o ./*.bino \
    -L"$lib" -Wl,-rpath,"$lib" -lslurmfull -ldl -export-dynamic
mv "$work/scrontab" "$binary"
say "built $binary"
printf '%s\n' "$binary"
