"""minio-s3-mirror: incremental, verified, cost-aware mirroring of S3-compatible buckets."""

__version__ = "0.1.0"
