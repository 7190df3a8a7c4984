#!/usr/bin/env bash
# Step 1 of the real-GPU check (tests/gpu/README.md), run where pip reaches PyPI: gpuagent's
# wheel, built from this checkout, and the wheel of everything it needs at run time, for
# CPython 3.11 to 3.14 on x86_64 Linux, into one folder that git ignores (.cache/ is) and
# that the device tool's `carry` takes to a GPU machine with no network. Pure-Python
# packages have one wheel for every version; PyYAML and charset-normalizer have one per
# CPython version, which is why the versions are listed. device-check.sh, on the GPU
# machine, installs from this folder alone (pip --no-index) and says so, in its report,
# when the folder holds no wheel for that machine's Python.
#
#   tests/gpu/build-wheels.sh [--python X.Y]... [DIR]    (DIR: .cache/device-wheels)
#
# Rebuild it after changing gpuagent: the report says when the wheel's sources differ
# from the checkout it runs in. The folder must stay under the tool's 64 MiB, the working
# tree included: this script fails above LIMIT_MIB.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LIMIT_MIB=48
pythons=()
out=""
while [ $# -gt 0 ]; do
    case $1 in
    --python)
        [[ ${2:-} =~ ^3\.[0-9]+$ ]] || { echo "build-wheels.sh: --python takes a version such as 3.12, not '${2:-}'" >&2; exit 2; }
        pythons+=("$2"); shift 2 ;;
    -h | --help) sed -n '2,15p' "$0"; exit 0 ;;
    -*) echo "build-wheels.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    *) [ -z "$out" ] || { echo "build-wheels.sh: one folder only" >&2; exit 2; }; out=$1; shift ;;
    esac
done
[ ${#pythons[@]} -gt 0 ] || pythons=(3.11 3.12 3.13 3.14)
out=${out:-$repo/.cache/device-wheels}
python=${PYTHON:-$repo/.venv/bin/python}
"$python" -m pip --version >/dev/null 2>&1 || { echo "build-wheels.sh: $python has no pip (set PYTHON=...)" >&2; exit 2; }

partial="$out.partial"
rm -rf "$partial"
mkdir -p "$partial"
pip=("$python" -m pip --disable-pip-version-check)
# gpuagent itself, from the checkout as it is now (committed or not)
"${pip[@]}" wheel --quiet --no-deps --wheel-dir "$partial" "$repo"
wheel=$(find "$partial" -maxdepth 1 -name 'gpuagent-*.whl' -print -quit)
[ -n "$wheel" ] || { echo "build-wheels.sh: pip built no gpuagent wheel" >&2; exit 1; }
# Its dependencies, and theirs, as binary wheels for each CPython on x86_64 Linux. pip
# matches a manylinux platform tag exactly, so each one a wheel may carry is named.
platforms=()
for tag in manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux_2_28_x86_64 manylinux_2_5_x86_64 manylinux1_x86_64; do
    platforms+=(--platform "$tag")
done
for version in "${pythons[@]}"; do
    "${pip[@]}" download --quiet --only-binary=:all: --implementation cp --python-version "$version" \
        "${platforms[@]}" --dest "$partial" "$wheel"
done
rm -rf "$out"
mv "$partial" "$out"

total=$(du -sb "$out" | cut -f1)
echo "build-wheels.sh: $(find "$out" -name '*.whl' | wc -l) wheels for CPython ${pythons[*]}, $((total / 1024)) KiB in all, in $out:"
find "$out" -name '*.whl' -printf '%7k KiB  %f\n' | sort -k3
if [ "$total" -gt $((LIMIT_MIB * 1024 * 1024)) ]; then
    echo "build-wheels.sh: $((total >> 20)) MiB is over $LIMIT_MIB MiB: with the working tree, more than the device tool carries (64 MiB)" >&2
    exit 1
fi
