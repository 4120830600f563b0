"""`python -m bench.profile`: where a minio-s3-mirror run spends its CPU, sampled by py-spy.

Not part of the test suite. Starts the benchmark's two SeaweedFS servers and data, runs the
mirror once per workload (W1 small objects, W4 large objects) under `py-spy record` (all
threads, on-CPU samples only, without pausing the process), and writes
bench/results/profile-<date>.md: CPU seconds by phase (start-up and imports, listing, the
data path, logs and summary), the functions with the most samples of their own, and the
start-up wall time of the interpreter alone and with the mirror's imports.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from bench import run_main
from bench.contenders import Mirror
from bench.runner import Bench, Config

# A sample belongs to the first phase whose marker appears in one of its frames.
PHASES = (
    ("start-up: imports", ("_find_and_load", "<frozen importlib")),
    ("data path: GET, PUT, multipart", ("mirror/transfer.py", "mirror/executor.py")),
    ("listing: LIST requests, XML parsing", ("mirror/scan.py", "mirror/s3/listing.py")),
    ("logs and run summary", ("structlog", "mirror/logs.py", "mirror/report/",
                              "mirror/summary.py")),
    ("merge and decisions", ("mirror/merge.py", "mirror/decision.py", "mirror/order.py",
                             "mirror/engine.py")),
)
OTHER = "other (configuration, threads, interpreter)"


def _frames(stack: str) -> list[str]:
    return [f for f in stack.split(";") if f]


def _function(frame: str) -> str:
    """`encode (json/encoder.py:200)` -> `encode (json/encoder.py)`: one row per function."""
    name, _, where = frame.partition(" (")
    return f"{name} ({where.rsplit(':', 1)[0].rstrip(')')})" if where else name


def summarise(raw: str, rate: int) -> tuple[Counter[str], Counter[str], int]:
    phases: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        frames = _frames(stack)
        total += count
        phase = next((name for name, markers in PHASES
                      if any(m in f for f in frames for m in markers)), OTHER)
        phases[phase] += count
        if frames:
            own[_function(frames[-1])] += count
    return phases, own, total


def startup(runs: int = 5) -> dict[str, float]:
    def median_of(cmd: list[str]) -> float:
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            subprocess.run(cmd, capture_output=True, check=True)
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    return {"python -c pass": median_of([sys.executable, "-c", "pass"]),
            "python -m mirror --version": median_of([sys.executable, "-m", "mirror",
                                                     "--version"]),
            "import the run's modules": median_of([
                sys.executable, "-c",
                "import mirror.cli, mirror.run, mirror.engine, mirror.transfer"])}


def profile(bench: Bench, bucket: str, rate: int, raw_file: Path) -> tuple[float, str]:
    target = bench.bucket(bench.target_server, "profile")
    env = Mirror.environment(bench.src, bucket, bench.dst, target)
    started = time.perf_counter()
    done = subprocess.run(["py-spy", "record", "--format", "raw", "--rate", str(rate),
                           "--nonblocking", "--output", str(raw_file), "--",
                           sys.executable, "-m", "mirror"],
                          env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"py-spy or the mirror failed:\n{done.stderr[-2000:]}")
    return seconds, raw_file.read_text()


def section(title: str, seconds: float, raw: str, rate: int, top: int) -> str:
    phases, own, total = summarise(raw, rate)
    lines = [f"## {title}", "",
             f"Wall time under the profiler: {seconds:.2f} s. On-CPU samples: {total} "
             f"at {rate} Hz = {total / rate:.2f} CPU-seconds (all threads).", "",
             "| phase | CPU s | share |", "|---|---:|---:|"]
    for name, count in phases.most_common():
        lines.append(f"| {name} | {count / rate:.2f} | {100 * count / max(total, 1):.0f}% |")
    lines += ["", f"Functions with the most samples of their own (top {top}):", "",
              "| function | CPU s | share |", "|---|---:|---:|"]
    for name, count in own.most_common(top):
        cell = name.replace("|", "\\|")
        lines.append(f"| `{cell}` | {count / rate:.2f} | {100 * count / max(total, 1):.0f}% |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--workloads", default="w1,w4", help="w1, w4 or both")
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--large-count", type=int, default=8)
    parser.add_argument("--large-mib", type=int, default=64)
    parser.add_argument("--rate", type=int, default=250, help="samples per second")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    wanted = {w.strip().lower() for w in args.workloads.split(",")}
    config = Config(objects=args.objects if "w1" in wanted else 0,
                    large_count=args.large_count if "w4" in wanted else 0,
                    large_size=args.large_mib * 1024 * 1024, runs=1,
                    workdir=Path("/tmp/mirror-profile"))
    bench = Bench(config)
    bench.start()
    sections = []
    try:
        for name, bucket, title in (
                ("w1", bench.small_bucket,
                 f"W1: {args.objects:,} objects of 1-16 KiB into an empty bucket"),
                ("w4", bench.large_bucket,
                 f"W4: {args.large_count} x {args.large_mib} MiB, half multipart at the source")):
            if name not in wanted:
                continue
            print(f"profiling {name}")
            seconds, raw = profile(bench, bucket, args.rate,
                                   config.workdir / f"profile-{name}.raw")
            sections.append(section(title, seconds, raw, args.rate, args.top))
    finally:
        bench.stop()
    print("start-up")
    starts = startup()
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    text = "\n".join([
        f"# Where minio-s3-mirror spends its CPU ({today})", "",
        "Sampled by py-spy (`python -m bench.profile`), two local SeaweedFS servers. A phase "
        "is the first of: an import on the stack, the data path, listing, logs and summary, "
        "merge; the rest is other.", "",
        *sections,
        "## Start-up (wall time, median of 5)", "",
        "| command | seconds |", "|---|---:|",
        *(f"| `{cmd}` | {secs:.3f} |" for cmd, secs in starts.items()), ""])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"profile-{today}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    run_main(main)
