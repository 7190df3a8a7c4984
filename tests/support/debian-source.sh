#!/usr/bin/env bash
# Fetch a Debian bookworm source package into a directory: debian-source.sh DIR PACKAGE=VERSION [--download-only]
#
# The export tests build what bookworm packages only as source (kube-apiserver, scrontab).
# apt-get source needs deb-src lists, which the system's apt configuration may not have:
# this one is private to DIR (its own sources, lists and cache), so the system's apt
# sources stay as they are. Without --download-only, apt-get unpacks it with dpkg-source.
set -euo pipefail

[ $# -ge 2 ] || { echo "usage: $0 DIR PACKAGE=VERSION [--download-only]" >&2; exit 2; }
dir=$1 package=$2
shift 2

apt_dir=$dir/apt
mkdir -p "$apt_dir/sources" "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
cat >"$apt_dir/sources/bookworm-src.sources" <<'SOURCES'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
cat >"$apt_dir/apt.conf" <<CONF
Dir::Etc::SourceList "/dev/null";
Dir::Etc::SourceParts "$apt_dir/sources";
Dir::State::Lists "$apt_dir/lists";
Dir::Cache "$apt_dir/cache";
APT::Sandbox::User "root";
CONF
export APT_CONFIG=$apt_dir/apt.conf
apt-get -q update >/dev/null
cd "$dir"
apt-get -q source "$@" "$package" >/dev/null
