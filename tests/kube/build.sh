#!/usr/bin/env bash
# Build kube-apiserver and kube-controller-manager 1.20.2 for the export tests, once per
# machine, and print the directory that holds them.
#
# No Kubernetes server binary is packaged in Debian, but bookworm's `kubernetes` source
# package is the full upstream tree with vendor/, so Debian's Go builds it offline. The
# source is fetched through a private APT configuration (a deb-src list of its own), so
# the system's apt sources stay as they are. The binaries go to a cache under /var/tmp
# that outlives checkouts; the source tree and Go's build cache are deleted afterwards.
# Idempotent: with the binaries in place it only prints their directory.
set -euo pipefail

version=1.20.2
package_version=1.20.5+really1.20.2-1.1+deb12u1
cache=/var/tmp/gpuagent-test-cache
target=$cache/kubernetes-$version
binaries=(kube-apiserver kube-controller-manager)

say() { printf 'kube/build: %s\n' "$*" >&2; }
die() { printf 'kube/build: error: %s\n' "$*" >&2; exit 1; }

built() {
    local b
    for b in "${binaries[@]}"; do
        [ -x "$target/bin/$b" ] || return 1
    done
    [ "$(cat "$target/version" 2>/dev/null)" = "$package_version" ]
}

mkdir -p "$cache"
# Two test sessions on one machine must not build into the same tree.
exec 9>"$cache/kubernetes.lock"
flock 9

if built; then
    printf '%s\n' "$target/bin"
    exit 0
fi

# Kubernetes' make places each binary with rsync; without it the build leaves empty files.
for tool in go rsync; do
    command -v "$tool" >/dev/null || die "$tool is missing (tests/setup-host.sh installs it)"
done
work=$cache/kubernetes-$version.build
mkdir -p "$work"

# --- the source, through a private APT configuration ------------------------------
if ! ls "$work"/kubernetes_*.orig.tar.gz >/dev/null 2>&1; then
    say "fetching the source of kubernetes $package_version"
    bash "$(dirname "${BASH_SOURCE[0]}")/../support/debian-source.sh" "$work" "kubernetes=$package_version" --download-only
fi
src=$work/kubernetes-$version
if [ ! -d "$src" ]; then
    say "unpacking"
    tar -xzf "$work"/kubernetes_*.orig.tar.gz -C "$work"
fi
[ -d "$src" ] || die "the source tarball did not unpack into $src"

# --- the build: offline, from vendor/ ------------------------------------------------
# Go's build cache lives in the work tree, so a rerun after an interrupted build goes on
# where it stopped and the cache goes away with the tree.
say "building ${binaries[*]} (about 5 minutes on 2 cores)"
(cd "$src" && GOCACHE=$work/go-build GOFLAGS=-mod=vendor GOPROXY=off \
    KUBE_BUILD_PLATFORMS=linux/amd64 \
    make WHAT="cmd/kube-apiserver cmd/kube-controller-manager" >&2)

rm -rf "$target"
mkdir -p "$target/bin"
for b in "${binaries[@]}"; do
    install -m 0755 "$src/_output/local/bin/linux/amd64/$b" "$target/bin/$b"
done
printf '%s\n' "$package_version" >"$target/version"
rm -rf "$work"
say "built into $target/bin"
printf '%s\n' "$target/bin"
