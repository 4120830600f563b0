"""Run every contender through W1-W4 on the same servers and data, timed and counted.

Contenders take turns, run after run, each round starting one contender later. Every timed
step starts on a settled disk: the page cache's dirty data (the seeding's, or the previous
step's objects) is written out first, untimed, as otherwise the kernel's writeback of
someone else's gigabyte lands inside the next step (measured: the first W4 after seeding
took 4.1-4.4 s, whichever tool ran it, against 3.6-3.8 s after a sync).

For each contender and repetition: a fresh target (and staging directory), then W1
(initial copy), W2 (no-op rerun), W3 (1% rewritten, half with the same size, 1% added;
reverted afterwards) and W4 (large objects). Timed passes
talk to the servers directly; one extra pass per contender goes through counting proxies
to record every request and every key written, exactly. References: listing both buckets
(the floor of a no-op) and raw transfers from/to local disk (the ceilings of W1 and W4).
"""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from bench import data
from bench.contenders import Contender, Endpoint, ToolFailed, _aws_env
from bench.proxy import CountingProxy
from mirror.sandbox import LocalS3, start_seaweedfs
from mirror.scan import Scope, flat


@dataclass
class Config:
    objects: int = 10_000
    large_count: int = 8
    large_size: int = 64 * data.MIB
    runs: int = 3
    seed: int = 2025
    workdir: Path = Path("/tmp/mirror-bench")


@dataclass
class Measured:
    """Everything measured for one contender."""

    name: str
    version: str
    w1: list[float] = field(default_factory=list)
    w2: list[float] = field(default_factory=list)
    w3: list[float] = field(default_factory=list)
    w4: list[float] = field(default_factory=list)
    # CPU seconds (user + system) the tool's processes spent, per run: on a machine whose
    # cores the servers share, a tool's CPU is taken from the servers.
    cpu: dict[str, list[float]] = field(default_factory=dict)
    requests: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    w3_exact: bool | None = None
    w3_detail: str = ""
    error: str | None = None


def endpoint(server: LocalS3, url: str | None = None) -> Endpoint:
    return Endpoint(url or server.url, server.access_key, server.secret_key, server.provider)


class Bench:
    def __init__(self, config: Config, log: Callable[[str], None] = print) -> None:
        self.config = config
        self.log = log
        self.rng = random.Random(config.seed)
        self._bucket_ids = 0

    def start(self) -> None:
        shutil.rmtree(self.config.workdir, ignore_errors=True)
        self.config.workdir.mkdir(parents=True)
        self.log("starting two SeaweedFS servers ...")
        with ThreadPoolExecutor(2) as pool:
            source_f = pool.submit(start_seaweedfs, self.config.workdir / "source")
            target_f = pool.submit(start_seaweedfs, self.config.workdir / "target")
            self.source_server, self.target_server = source_f.result(), target_f.result()
        self.src, self.dst = endpoint(self.source_server), endpoint(self.target_server)
        self.src_proxy = CountingProxy("127.0.0.1", int(self.src.url.rsplit(":", 1)[1]))
        self.dst_proxy = CountingProxy("127.0.0.1", int(self.dst.url.rsplit(":", 1)[1]))
        self.log(f"seeding {self.config.objects} small objects ...")
        self.small = data.bodies(data.small_keys(self.config.objects, self.rng), self.rng)
        self.small_bucket = self.bucket(self.source_server, "small")
        data.upload(self.src, self.small_bucket, self.small)
        self.log(f"seeding {self.config.large_count} large objects ...")
        self.large_bucket = self.bucket(self.source_server, "large")
        for i in range(self.config.large_count):
            body = self.rng.randbytes(self.config.large_size)
            if i % 2:
                data.upload_multipart(self.src, self.large_bucket, f"model-{i}.bin", body)
            else:
                data.upload(self.src, self.large_bucket, {f"model-{i}.bin": body}, workers=1)

    def stop(self) -> None:
        self.src_proxy.close()
        self.dst_proxy.close()
        self.source_server.stop()
        self.target_server.stop()
        shutil.rmtree(self.config.workdir, ignore_errors=True)  # gigabytes of test data

    def bucket(self, server: LocalS3, stem: str) -> str:
        self._bucket_ids += 1
        name = f"{stem}-{self._bucket_ids}"
        server.boto3().create_bucket(Bucket=name)
        return name

    # -- one contender -------------------------------------------------------------------

    def _timed(self, fn: Callable[[], None], cpu: list[float] | None = None) -> float:
        os.sync()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        fn()
        seconds = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if cpu is not None:
            cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        return seconds

    def measure(self, tools: list[Contender]) -> list[Measured]:
        """Every contender, run after run in turn (round robin), each round starting with
        the next one: a noisy minute of the machine falls on all of them alike, and no one
        always follows the same contender or always goes first."""
        results = [Measured(tool.name, tool.version()) for tool in tools]
        pairs = list(zip(tools, results, strict=True))
        for run in range(1, self.config.runs + 1):
            shift = (run - 1) % len(pairs)
            for tool, result in pairs[shift:] + pairs[:shift]:
                if result.error:
                    continue
                self.log(f"  run {run}/{self.config.runs}: {tool.name}")
                self._guarded(tool, result, timed=True)
        for tool, result in zip(tools, results, strict=True):
            if not result.error:
                self.log(f"  counting requests: {tool.name}")
                self._guarded(tool, result, timed=False)
        return results

    def _guarded(self, tool: Contender, result: Measured, timed: bool) -> None:
        src, dst = self.src, self.dst
        if not timed:
            src = endpoint(self.source_server, self.src_proxy.url)
            dst = endpoint(self.target_server, self.dst_proxy.url)
        try:
            self._cycle(tool, result, src, dst, timed=timed)
        except ToolFailed as exc:
            result.error = str(exc)
            self.log(f"  {tool.name} FAILED: {exc}")

    def _cycle(self, tool: Contender, result: Measured, src: Endpoint, dst: Endpoint,
               timed: bool) -> None:
        target = self.bucket(self.target_server, "target")
        tool.reset()

        def step(name: str) -> None:
            self.src_proxy.reset()
            self.dst_proxy.reset()
            seconds = self._timed(lambda: tool.sync(src, self.small_bucket, dst, target),
                                  result.cpu.setdefault(name, []) if timed else None)
            if timed:
                getattr(result, name).append(seconds)
            else:
                (src_counts, _), (dst_counts, written) = (self.src_proxy.snapshot(),
                                                          self.dst_proxy.snapshot())
                result.requests[name] = {"source": src_counts, "target": dst_counts}
                self._written[name] = written

        self._written: dict[str, list[str]] = {}
        step("w1")
        step("w2")
        change = data.incremental_change(self.small, self.rng)
        data.apply_change(self.src, self.small_bucket, change)
        try:
            step("w3")
        finally:
            data.revert_change(self.src, self.small_bucket, change)
        if not timed:
            written = set(self._written["w3"])
            expected = change.expected_writes
            result.w3_exact = written == expected
            result.w3_detail = (f"wrote {len(written)} keys, {len(expected)} changed or new; "
                                f"missed {len(expected - written)}, "
                                f"extra {len(written - expected)}")
            return
        large_target = self.bucket(self.target_server, "large-target")
        tool.reset()
        result.w4.append(self._timed(
            lambda: tool.sync(src, self.large_bucket, dst, large_target),
            result.cpu.setdefault("w4", [])))

    # -- references ----------------------------------------------------------------------

    def list_floor(self) -> list[float]:
        """Listing both buckets at once with the mirror's lister: a no-op cannot beat it."""
        target = self.bucket(self.target_server, "floor")
        data.upload(self.dst, target, self.small)
        times = []
        for _ in range(self.config.runs):
            def side(end: Endpoint, bucket: str) -> int:
                return sum(len(b) for b in flat(data.client(end), Scope(bucket, "", 0)))

            os.sync()
            started = time.perf_counter()
            with ThreadPoolExecutor(2) as pool:
                counts = list(pool.map(side, (self.src, self.dst),
                                       (self.small_bucket, target)))
            times.append(time.perf_counter() - started)
            assert counts == [len(self.small)] * 2
        return times

    def raw_transfers(self) -> dict[str, list[float]]:
        """s5cmd GET and PUT of the small set, rclone PUT of the large set, from local disk."""
        local = self.config.workdir / "local-small"
        large_local = self.config.workdir / "local-large"
        shutil.rmtree(large_local, ignore_errors=True)
        large_local.mkdir()
        for i in range(self.config.large_count):
            (large_local / f"model-{i}.bin").write_bytes(
                self.rng.randbytes(self.config.large_size))
        (self.config.workdir / "rc.conf").touch()
        out: dict[str, list[float]] = {"get_small": [], "put_small": [], "put_large": []}
        for _ in range(self.config.runs):
            shutil.rmtree(local, ignore_errors=True)
            local.mkdir()
            out["get_small"].append(self._timed(partial(
                _tool, ["s5cmd", "--endpoint-url", self.src.url, "cp",
                        f"s3://{self.small_bucket}/*", f"{local}/"], _aws_env(self.src))))
            target = self.bucket(self.target_server, "raw")
            out["put_small"].append(self._timed(partial(
                _tool, ["s5cmd", "--endpoint-url", self.dst.url, "cp", f"{local}/",
                        f"s3://{target}/"], _aws_env(self.dst))))
            env = {**_aws_env(self.dst), "RCLONE_CONFIG": str(self.config.workdir / "rc.conf"),
                   "RCLONE_CONFIG_DST_TYPE": "s3", "RCLONE_CONFIG_DST_PROVIDER": "SeaweedFS",
                   "RCLONE_CONFIG_DST_ENDPOINT": self.dst.url,
                   "RCLONE_CONFIG_DST_ACCESS_KEY_ID": self.dst.access_key,
                   "RCLONE_CONFIG_DST_SECRET_ACCESS_KEY": self.dst.secret_key}
            large_target = self.bucket(self.target_server, "raw-large")
            out["put_large"].append(self._timed(partial(
                _tool, ["rclone", "copy", str(large_local), f"DST:{large_target}"], env)))
        return out


def _tool(cmd: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(cmd, env=env, capture_output=True, check=False)
    if done.returncode != 0:
        raise ToolFailed(done.stderr.decode(errors="replace")[-1000:])


def scale(sizes: list[int]) -> list[dict[str, Any]]:
    out = []
    for n in sizes:
        done = subprocess.run([sys.executable, "-m", "bench.scale", str(n)],
                              capture_output=True, text=True, check=True)
        out.append(json.loads(done.stdout))
    return out
