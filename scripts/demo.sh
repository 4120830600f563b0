#!/usr/bin/env bash
# The embedded default: two local S3 servers (a "minio" side and an "aws" side, both
# SeaweedFS on 127.0.0.1), a seeded sample bucket, then the real `minio-s3-mirror` command
# run as a dry-run, as a mirror, and again to show an incremental no-op.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh servers
exec .venv/bin/python -m mirror.demo "$@"
