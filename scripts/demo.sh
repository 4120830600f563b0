#!/usr/bin/env bash
# The embedded default: two local S3 servers (a "minio" side and an "aws" side, both
# SeaweedFS on 127.0.0.1), a seeded sample bucket, then the real `minio-s3-mirror` command
# run as a dry-run, as a mirror, and again to show an incremental no-op.
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "Python 3.11 or newer is needed (set PYTHON=...)" >&2; exit 2; }
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[servers]'
export PATH="$PWD/.venv/bin:$PATH"
exec .venv/bin/python -m mirror.demo "$@"
