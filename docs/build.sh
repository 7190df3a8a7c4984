#!/usr/bin/env bash
# Build the documentation site strictly: a broken link or anchor, a page missing from the
# nav or a missing snippet fails the build. Installs the `docs` extra into .venv when
# mkdocs is not there. The site goes to site/ (ignored by git), or to the directory given.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
site=${1:-site}
if ! .venv/bin/python -c 'import mkdocs, material' 2>/dev/null; then
    .venv/bin/python -m pip install -qq --disable-pip-version-check -e '.[docs]'
fi
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --clean --site-dir "$site"
