#!/usr/bin/env bash
# Regenerate constraints.txt, the exact versions of the runtime dependencies the container
# image installs: the project's wheel goes into a throwaway virtual environment with the
# newest versions pyproject.toml allows, and what got installed is written down. Run it to
# take dependency updates into the image on purpose (and let CI test them); the Dockerfile
# builds against the file, so two builds of one commit get the same packages.
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$PWD"
{
  echo "# The container image's runtime dependencies, exact (scripts/lock-image.sh writes it)."
  "$work/venv/bin/python" -m pip freeze --disable-pip-version-check --exclude minio-s3-mirror \
    | LC_ALL=C sort -f
} > constraints.txt
echo "constraints.txt: $(grep -vc '^#' constraints.txt) packages"
