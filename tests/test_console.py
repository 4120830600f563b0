"""The summary on stdout: a dry run is a useful preview on its own, without Slack."""

from __future__ import annotations

import jsonschema
from conftest import base_env, new_bucket, put, run_mirror

from mirror.report import jsonreport
from mirror.sandbox import LocalS3

LOG_KEYS = ("event", "level", "timestamp")


def _rows(stdout: str) -> dict[str, str]:
    """'  would copy         3 (6 B) new' -> {'would copy': '3 (6 B) new ...'}."""
    rows = {}
    for line in stdout.splitlines():
        if line.startswith("  ") and not line.startswith(("  !", "  ~")):
            rows[line[2:21].strip()] = line[21:]
    return rows


def test_a_dry_run_prints_what_it_would_copy(minio_side: LocalS3, aws_side: LocalS3) -> None:
    """stdout names the pair and what a real run would copy, keep, skip; the log stays JSON."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, {"a.txt": b"aa", "b.txt": b"bbbb", "c.log": b"c", "same": b"s"})
    put(aws_side, dst, {"same": b"s", "b.txt": b"other"})
    env = {**base_env(minio=minio_side, aws=aws_side), "SERVICE": "photos",
           "MIRROR_EXCLUDE": "*.log", "AWS_PRICING": "aws-s3-standard",
           "BUCKET_PAIR": f"minio/{src}:aws/{dst}"}

    run = run_mirror(env, "--dry-run")

    assert run.code == 0
    lines = run.stdout.splitlines()
    assert lines[0] == "photos mirror: success (dry run), would copy 1 (2 B), 1 differs (kept)"
    assert lines[1].startswith("DRY RUN: nothing was written")
    assert lines[3] == "a real run would cost at least $0.00001 in requests"  # LIST + PUT
    assert f"minio/{src} -> aws/{dst}   ✅ success" in lines
    rows = _rows(run.stdout)
    assert rows["would copy"] == "1 (2 B) new"
    assert rows["unchanged"] == "1"
    assert rows["differs, kept"] == "1 (4 B)"
    assert "  ~ b.txt: content differs (MD5), kept" in lines
    assert rows["excluded"] == "1"
    assert rows["requests"] == "source LIST 1 / target LIST 1"
    assert rows["est. cost"] == "$0.000005 (source free; target $0.000005 aws-s3-standard)"
    assert rows["real run requests"] == "source GET 1 · LIST 1 / target LIST 1 · PUT 1"
    assert rows["real run cost"] == (
        "at least $0.00001 (source free; target $0.00001 aws-s3-standard)")
    assert run.summary["dry_run"] is True  # the log still has its JSON run.done
    jsonschema.Draft202012Validator(jsonreport.schema()).validate(
        {k: v for k, v in run.summary.items() if k not in LOG_KEYS})
    assert all(line.startswith("{") for line in run.stderr.splitlines())


def test_a_real_run_prints_nothing_unless_asked(minio_side: LocalS3, aws_side: LocalS3) -> None:
    """Off a terminal (a CronJob) stdout stays empty; MIRROR_PRINT_SUMMARY=true prints it."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, {"a.txt": b"aa"})
    env = {**base_env(minio=minio_side, aws=aws_side), "BUCKET_PAIR": f"minio/{src}:aws/{dst}"}

    quiet = run_mirror(env)
    loud = run_mirror({**env, "MIRROR_PRINT_SUMMARY": "true"})

    assert (quiet.code, loud.code) == (0, 0)
    assert quiet.stdout == ""
    assert loud.stdout.startswith("minio-s3-mirror: success, 0 copied")
    assert _rows(loud.stdout)["unchanged"] == "1"


def test_failures_are_listed_under_their_pair(minio_side: LocalS3, aws_side: LocalS3) -> None:
    """The failed key and its reason are printed, marked with '!'."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, {"ok.txt": b"fine"})
    minio_side.boto3().put_object(Bucket=src, Key="a-damaged/", Body=b"these bytes are lost")
    env = {**base_env(minio=minio_side, aws=aws_side), "MIRROR_PRINT_SUMMARY": "true",
           "BUCKET_PAIR": f"minio/{src}:aws/{dst}"}

    run = run_mirror(env)

    assert run.code == 1
    marked = [line for line in run.stdout.splitlines() if line.startswith("  ! ")]
    assert len(marked) == 1
    assert marked[0].startswith("  ! a-damaged/: the bytes read from the source have MD5")
    assert _rows(run.stdout)["failed"] == "1 (0 B)"


def test_a_console_log_ends_with_a_short_run_line(minio_side: LocalS3,
                                                  aws_side: LocalS3) -> None:
    """On a console the pairs are in their `pair.done` lines and in the readable summary:
    `run.done` gives the totals in one short line, not the whole summary again."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, {"a.txt": b"aa", "b.txt": b"bbbb"})
    env = {**base_env(minio=minio_side, aws=aws_side), "MIRROR_LOG_FORMAT": "console",
           "MIRROR_PRINT_SUMMARY": "true", "BUCKET_PAIR": f"minio/{src}:aws/{dst}"}

    run = run_mirror(env)

    assert run.code == 0, run.stderr[-2000:]
    done = next(line for line in run.stderr.splitlines() if "run.done" in line)
    assert "pairs=1" in done
    assert "status=success" in done
    assert f"minio/{src}" not in done, done
    assert len(done) < 500, done
    assert "copied             2 (6 B) new" in run.stdout


def test_a_key_with_control_characters_stays_on_its_line() -> None:
    """A key with a line break and an escape sequence (one rclone refuses, so it is listed
    as failed) is printed on its one '!' line with escapes: it cannot read as a second
    failure, nor send escape sequences to the terminal."""
    from mirror.report import console
    from mirror.summary import Count, Failure, PairSummary, RunSummary, Status

    key = "evil\n  ! fake.txt: all good\x1b[31mRED\x1b[0m"
    pair = PairSummary(pair="minio/a:aws/b", source="minio/a", target="aws/b", dry_run=False,
                       prefixes=[], status=Status.PARTIAL, failed=Count(1, 1),
                       failures=[Failure(key, "rclone rewrites control characters in a key")],
                       error="stopped\nat a key")
    run = RunSummary(service="", dry_run=False, started_at="2026-01-22T02:00:00+00:00",
                     pairs=[pair], seconds=1)

    out = console.render(run)

    marked = [line for line in out.splitlines() if line.startswith("  ! ")]
    assert marked == ["  ! evil\\n  ! fake.txt: all good\\x1b[31mRED\\x1b[0m: rclone rewrites "
                      "control characters in a key"]
    assert "\x1b" not in out
    assert "  error              stopped\\nat a key" in out.splitlines()


def test_a_console_log_names_the_projected_requests_plainly(
        minio_side: LocalS3, aws_side: LocalS3) -> None:
    """MIRROR_LOG_FORMAT=console shows a dry run's projected requests as the operations'
    names ('GET': 1), never as Python's enum repr (<Op.GET: 'GET'>: 1) beside 'LIST': 1."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, {"a.txt": b"aa"})
    env = {**base_env(minio=minio_side, aws=aws_side), "MIRROR_LOG_FORMAT": "console",
           "BUCKET_PAIR": f"minio/{src}:aws/{dst}"}

    run = run_mirror(env, "--dry-run")

    assert run.code == 0
    done = next(line for line in run.stderr.splitlines() if "run.done" in line)
    assert "<Op." not in run.stderr
    assert "'GET': 1" in done
    assert "'PUT': 1" in done
