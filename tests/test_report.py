"""The run summary's numbers, checked against the real buckets and the requests the servers saw."""

from __future__ import annotations

import io
import json
import os
import stat
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest
from conftest import base_env, contents, listing, new_bucket, put, run_mirror
from report_servers import CountingProxy
from structlog.testing import capture_logs

from mirror.report import jsonreport
from mirror.report.publish import publish
from mirror.run import run
from mirror.sandbox import LocalS3
from mirror.settings import load_settings

LOG_KEYS = ("event", "level", "timestamp")
AWS_WRITE, AWS_READ = Decimal("0.005"), Decimal("0.0004")  # USD per 1,000 requests


@pytest.fixture
def proxies(minio_side: LocalS3, aws_side: LocalS3) -> Iterator[tuple[CountingProxy, ...]]:
    source, target = CountingProxy(minio_side.url), CountingProxy(aws_side.url)
    yield source, target
    source.close()
    target.close()


def _seed(minio_side: LocalS3, aws_side: LocalS3) -> tuple[str, str, dict[str, bytes]]:
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    new = {f"new/{i:02d}.bin": bytes([i]) * (100 * i + 1) for i in range(12)}
    put(minio_side, src, new)
    same = {"same/a.txt": b"identical a", "same/b.txt": b"identical b"}
    put(minio_side, src, same)
    put(aws_side, dst, same)
    put(minio_side, src, {"diff/c.txt": b"version 2"})
    put(aws_side, dst, {"diff/c.txt": b"version 1, kept", "only-on-target.txt": b"t"})
    put(minio_side, src, {"tmp/scratch.tmp": b"skip me"})
    # a real failed object: SeaweedFS lists the MD5 of bytes it does not return
    minio_side.boto3().put_object(Bucket=src, Key="a-damaged/", Body=b"these bytes are lost")
    return src, dst, new


def test_summary_counts_match_the_buckets_and_the_requests_seen(
        minio_side: LocalS3, aws_side: LocalS3, proxies: tuple[CountingProxy, ...],
        tmp_path: Path) -> None:
    """Copies, skips, a kept difference, an exclusion and a failure: every number is true."""
    src, dst, new = _seed(minio_side, aws_side)
    before_source, before_target = listing(minio_side, src), listing(aws_side, dst)
    target_before = contents(aws_side, dst)
    source_proxy, target_proxy = proxies
    report = tmp_path / "report.json"
    env = {**base_env(minio=minio_side, aws=aws_side), "MINIO_URL": source_proxy.url,
           "AWS_URL": target_proxy.url, "AWS_PRICING": "aws-s3-standard",
           "MIRROR_EXCLUDE": "*.tmp", "MIRROR_REPORT_FILE": str(report), "SERVICE": "photos",
           "BUCKET_PAIR": f"minio/{src}:aws/{dst}"}

    result = run_mirror(env)

    assert result.code == 1
    assert contents(aws_side, dst) == {**target_before, **new}
    pair = result.pair()
    assert pair["status"] == result.summary["status"] == "partial"
    assert result.decisions() == {"copy-new": 13, "unchanged": 2, "differs-kept": 1,
                                  "excluded": 1, "target-only": 1}
    new_bytes = sum(len(body) for body in new.values())
    assert pair["copied_new"] == pair["copied"] == result.summary["copied"] == {
        "objects": 12, "bytes": new_bytes}
    assert pair["copied_changed"] == {"objects": 0, "bytes": 0}
    assert pair["failed"]["objects"] == result.summary["failed"]["objects"] == 1
    assert [f["key"] for f in pair["failures"]] == ["a-damaged/"]
    assert pair["differs"] == [{"key": "diff/c.txt", "reason": "content differs (MD5)"}]
    assert pair["differs_not_kept"] == 0
    [kept] = result.named("object.differs_kept")
    assert (kept["level"], kept["key"]) == ("warning", "diff/c.txt")
    assert pair["listed_source"] == {"objects": len(before_source),
                                     "bytes": sum(o["Size"] for o in before_source.values())}
    assert pair["listed_target"] == {"objects": len(before_target),
                                     "bytes": sum(o["Size"] for o in before_target.values())}
    assert pair["listing_complete"] is True
    assert result.requests("source") == source_proxy.seen()
    assert result.requests("target") == target_proxy.seen()
    assert target_proxy.seen() == {"LIST": 1, "PUT": 12}
    assert pair["bytes_per_second"] > 0
    # SERVICE is on every line, the per-object and per-pair ones included
    assert {e.get("service") for e in result.events} == {"photos"}
    assert {"object.copied", "object.failed", "pair.done"} <= {e["event"] for e in result.events}

    seen = target_proxy.seen()
    expected = (seen.get("LIST", 0) + seen.get("PUT", 0)) * AWS_WRITE / 1000
    assert pair["cost"] == {"usd": float(expected), "complete": True,
                            "source": {"pricing": "none", "usd": 0.0},
                            "target": {"pricing": "aws-s3-standard", "usd": float(expected)}}
    assert result.summary["cost"] == {"usd": float(expected), "complete": True}

    written = json.loads(report.read_text())
    assert written == {k: v for k, v in result.summary.items() if k not in LOG_KEYS}
    assert written["schema"] == "minio-s3-mirror/report/v1"
    jsonschema.Draft202012Validator(jsonreport.schema()).validate(written)
    assert result.named("report.written")[0]["path"] == str(report)
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # no temporary file left


def test_a_read_heavy_source_is_priced_with_its_own_table(
        minio_side: LocalS3, aws_side: LocalS3, proxies: tuple[CountingProxy, ...]) -> None:
    """Each side is priced by its alias: GETs on an R2 source are Class B, PUTs on S3 tier 1."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    # no empty body: boto3 stalls on the PUT after an empty one to SeaweedFS
    put(minio_side, src, {f"k{i}": b"v" * (i + 1) for i in range(7)})
    source_proxy, target_proxy = proxies
    env = {**base_env(minio=minio_side, aws=aws_side), "MINIO_URL": source_proxy.url,
           "AWS_URL": target_proxy.url, "MINIO_PRICING": "r2", "AWS_PRICE_CLASS_A": "1",
           "AWS_PRICE_CLASS_B": "0.5", "BUCKET_PAIR": f"minio/{src}:aws/{dst}"}

    result = run_mirror(env)

    assert result.code == 0
    source, target = source_proxy.seen(), target_proxy.seen()
    assert source == {"LIST": 1, "GET": 7}
    source_usd = (source["LIST"] * Decimal("4.50") + source["GET"] * Decimal("0.36")) / 10**6
    target_usd = sum(target.values()) * Decimal(1) / 1000  # LIST and PUT are both class A
    cost = result.pair()["cost"]
    assert cost["source"] == {"pricing": "r2", "usd": float(source_usd)}
    assert cost["target"] == {"pricing": "custom", "usd": float(target_usd)}
    assert cost["usd"] == pytest.approx(float(source_usd + target_usd))


def test_a_dry_runs_projected_cost_is_what_the_real_run_then_costs(
        minio_side: LocalS3, aws_side: LocalS3, proxies: tuple[CountingProxy, ...]) -> None:
    """The preview prices one GET and one PUT per object to copy: exactly the real run's bill."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, {f"day/{i:03d}.jpg": b"j" * (i + 1) for i in range(25)})
    put(aws_side, dst, {"day/000.jpg": b"j"})
    source_proxy, target_proxy = proxies
    env = {**base_env(minio=minio_side, aws=aws_side), "MINIO_URL": source_proxy.url,
           "AWS_URL": target_proxy.url, "MINIO_PRICING": "r2", "AWS_PRICING": "aws-s3-standard",
           "BUCKET_PAIR": f"minio/{src}:aws/{dst}"}

    preview = run_mirror(env, "--dry-run")
    real = run_mirror(env)

    assert (preview.code, real.code) == (0, 0)
    assert preview.pair()["projected_cost"] == real.pair()["cost"]
    assert preview.summary["projected_cost"] == real.summary["cost"]
    assert real.requests("target") == {"LIST": 1, "PUT": 24}
    assert target_proxy.seen() == {"LIST": 2, "PUT": 24}  # the preview only listed
    assert "projected_cost" not in real.summary


def test_an_unpriced_store_makes_the_estimate_a_lower_bound(minio_side: LocalS3,
                                                            aws_side: LocalS3) -> None:
    """A generic endpoint other than the `minio` alias is not priced: the cost says so."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, {"a": b"1"})
    env = {**base_env(minio=minio_side, aws=aws_side), "AWS_PROVIDER": "generic",
           "BUCKET_PAIR": f"minio/{src}:aws/{dst}"}

    result = run_mirror(env)

    assert result.code == 0
    cost = result.pair()["cost"]
    assert cost["complete"] is False
    assert cost["target"] == {"pricing": "unknown", "usd": None}
    assert result.summary["cost"]["complete"] is False


def test_the_report_of_a_failed_pair_validates_and_names_the_cause(
        minio_side: LocalS3, aws_side: LocalS3, tmp_path: Path) -> None:
    """A pair that cannot run still gets a complete, valid report with its error."""
    src = new_bucket(minio_side, "src")
    report = tmp_path / "nested-ok.json"
    env = {**base_env(minio=minio_side, aws=aws_side), "MIRROR_REPORT_FILE": str(report),
           "BUCKET_PAIR": f"minio/{src}:aws/no-such-bucket-here"}

    result = run_mirror(env)

    assert result.code == 1
    written = json.loads(report.read_text())
    jsonschema.Draft202012Validator(jsonreport.schema()).validate(written)
    assert written["status"] == "failed"
    assert "no-such-bucket-here" in written["pairs"][0]["error"]


def test_a_report_file_in_a_missing_directory_is_a_configuration_error(
        minio_side: LocalS3, aws_side: LocalS3, tmp_path: Path) -> None:
    """A typo in MIRROR_REPORT_FILE is caught before any request (exit 2), not after the run."""
    env = {**base_env(minio=minio_side, aws=aws_side), "BUCKET_PAIR": "minio/a:aws/b",
           "MIRROR_REPORT_FILE": str(tmp_path / "missing" / "report.json")}

    result = run_mirror(env)

    assert result.code == 2
    assert "MIRROR_REPORT_FILE is in a directory that does not exist" in result.stderr
    assert [e["event"] for e in result.events] == ["config.invalid"]  # nothing ran



@pytest.mark.parametrize("name", ["fifo", "folder/"])
def test_a_report_file_that_is_no_plain_file_is_a_configuration_error(
        minio_side: LocalS3, aws_side: LocalS3, tmp_path: Path, name: str) -> None:
    """The report is written by a rename over its path: a pipe or device there (think
    /dev/null, as root) would be replaced by a plain file, and `folder/` would become a
    file named `folder`. Both are refused before any request, and left as they were."""
    os.mkfifo(tmp_path / "fifo")
    env = {**base_env(minio=minio_side, aws=aws_side), "BUCKET_PAIR": "minio/a:aws/b",
           "MIRROR_REPORT_FILE": f"{tmp_path}/{name}"}

    result = run_mirror(env)

    assert result.code == 2
    assert "MIRROR_REPORT_FILE is " in result.stderr
    assert [e["event"] for e in result.events] == ["config.invalid"]
    assert stat.S_ISFIFO((tmp_path / "fifo").stat().st_mode)
    assert not (tmp_path / "folder").exists()

def test_a_report_that_cannot_be_written_is_logged_and_the_run_is_unchanged(
        minio_side: LocalS3, aws_side: LocalS3, tmp_path: Path) -> None:
    """A write failure at the end is one error event, no stray file, no exception."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, {"a": b"1"})
    settings = load_settings({**base_env(minio=minio_side, aws=aws_side),
                              "BUCKET_PAIR": f"minio/{src}:aws/{dst}"})
    summary = run(settings)
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the report's directory should be")
    broken = blocker / "report.json"

    with capture_logs() as events:
        publish(summary, replace(settings, report_file=str(broken)), io.StringIO())

    failed = [e for e in events if e["event"] == "report.failed"]
    assert len(failed) == 1
    assert failed[0]["path"] == str(broken)
    assert "NotADirectoryError" in failed[0]["error"]
    assert [p.name for p in tmp_path.iterdir()] == ["not-a-directory"]
    assert contents(aws_side, dst) == {"a": b"1"}


def test_a_new_report_replaces_the_previous_one_whole(minio_side: LocalS3, aws_side: LocalS3,
                                                       tmp_path: Path) -> None:
    """Each run replaces the file in one rename: a reader sees the old report or the new one."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, {"a": b"1", "b": b"2"})
    report = tmp_path / "report.json"
    report.write_text('{"previous": true}')
    env = {**base_env(minio=minio_side, aws=aws_side), "MIRROR_REPORT_FILE": str(report),
           "BUCKET_PAIR": f"minio/{src}:aws/{dst}"}

    first = run_mirror(env)
    second = run_mirror(env)

    assert (first.code, second.code) == (0, 0)
    written = json.loads(report.read_text())
    assert written["started_at"] == second.summary["started_at"]
    assert written["pairs"][0]["decisions"] == {"unchanged": {"objects": 2, "bytes": 2}}
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]
