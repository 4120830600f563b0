#!/usr/bin/env bash
# The benchmark (not part of the test suite): minio-s3-mirror against rclone, s5cmd and the
# aws cli on two local SeaweedFS servers. Writes bench/results/<date>.md and .json.
# Extra arguments go to `python -m bench` (see --help: sizes, runs, contenders).
# Run it on a quiet machine: every figure is wall-clock time.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh bench
exec .venv/bin/python -m bench "$@"
