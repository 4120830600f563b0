"""The tools measured, each driven the way a user would run it between two endpoints."""

from __future__ import annotations

import compileall
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import mirror


@dataclass(frozen=True)
class Endpoint:
    url: str
    access_key: str
    secret_key: str
    provider: str = "seaweedfs"


class ToolFailed(RuntimeError):
    pass


def _run(cmd: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ToolFailed(f"{' '.join(cmd[:3])} exited {done.returncode}: {done.stderr[-1500:]}")


def _version(cmd: list[str], pattern: str = r"v?\d+\.\d+(\.\d+)?") -> str:
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    found = re.search(pattern, out.stdout + out.stderr)
    return found.group(0) if found else "unknown"


class Contender:
    name = "contender"
    two_hop = False  # goes through a local staging directory

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir

    def reset(self) -> None:
        """Forget any state kept between runs (a staging directory)."""

    def sync(self, src: Endpoint, src_bucket: str, dst: Endpoint, dst_bucket: str) -> None:
        raise NotImplementedError

    def version(self) -> str:
        raise NotImplementedError


class Mirror(Contender):
    """Run with MIRROR_OVERWRITE=true: the other tools are syncs, they replace what changed.
    (The product's default keeps changed target objects and reports them instead.)"""

    name = "minio-s3-mirror"

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        # Installed from a wheel, the package's bytecode is compiled at install time. Run
        # from this checkout (with PYTHONDONTWRITEBYTECODE set, as on CI machines and in
        # the image), every start would compile the edited modules again: ~30 ms a run
        # that no installed copy pays. Compile once, as pip would.
        compileall.compile_dir(Path(mirror.__file__).parent, quiet=1)

    @staticmethod
    def environment(src: Endpoint, src_bucket: str, dst: Endpoint,
                    dst_bucket: str) -> dict[str, str]:
        return {**os.environ, "MIRROR_LOG_FORMAT": "json", "MIRROR_OVERWRITE": "true",
                "MINIO_URL": src.url, "MINIO_ACCESS_KEY": src.access_key,
                "MINIO_SECRET_KEY": src.secret_key, "MINIO_PROVIDER": src.provider,
                "AWS_URL": dst.url, "AWS_ACCESS_KEY": dst.access_key,
                "AWS_SECRET_KEY": dst.secret_key, "AWS_PROVIDER": dst.provider,
                "BUCKET_PAIR": f"minio/{src_bucket}:aws/{dst_bucket}"}

    def sync(self, src: Endpoint, src_bucket: str, dst: Endpoint, dst_bucket: str) -> None:
        _run([sys.executable, "-m", "mirror"],
             self.environment(src, src_bucket, dst, dst_bucket))

    def version(self) -> str:
        return mirror.__version__


class Rclone(Contender):
    def __init__(self, workdir: Path, flags: tuple[str, ...] = ()) -> None:
        super().__init__(workdir)
        self.flags = flags
        self.name = "rclone sync" + "".join(f" {f}" for f in flags)

    def sync(self, src: Endpoint, src_bucket: str, dst: Endpoint, dst_bucket: str) -> None:
        env = {**os.environ, "RCLONE_CONFIG": str(self.workdir / "rclone.conf")}
        for remote, end in (("SRC", src), ("DST", dst)):
            env.update({f"RCLONE_CONFIG_{remote}_TYPE": "s3",
                        f"RCLONE_CONFIG_{remote}_PROVIDER": "SeaweedFS",
                        f"RCLONE_CONFIG_{remote}_ENDPOINT": end.url,
                        f"RCLONE_CONFIG_{remote}_ACCESS_KEY_ID": end.access_key,
                        f"RCLONE_CONFIG_{remote}_SECRET_ACCESS_KEY": end.secret_key})
        (self.workdir / "rclone.conf").touch()
        _run(["rclone", "sync", f"SRC:{src_bucket}", f"DST:{dst_bucket}", *self.flags], env)

    def version(self) -> str:
        return _version(["rclone", "version"])


def _aws_env(end: Endpoint) -> dict[str, str]:
    return {**os.environ, "AWS_ACCESS_KEY_ID": end.access_key,
            "AWS_SECRET_ACCESS_KEY": end.secret_key, "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true"}


class TwoHop(Contender):
    """Tools that sync one endpoint to another only through a local directory."""

    two_hop = True

    @property
    def stage(self) -> Path:
        return self.workdir / f"stage-{self.name.split()[0]}"

    def reset(self) -> None:
        shutil.rmtree(self.stage, ignore_errors=True)
        self.stage.mkdir(parents=True)


class S5cmd(TwoHop):
    name = "s5cmd sync (two hops)"

    def sync(self, src: Endpoint, src_bucket: str, dst: Endpoint, dst_bucket: str) -> None:
        _run(["s5cmd", "--endpoint-url", src.url, "sync", f"s3://{src_bucket}/*",
              f"{self.stage}/"], _aws_env(src))
        _run(["s5cmd", "--endpoint-url", dst.url, "sync", f"{self.stage}/",
              f"s3://{dst_bucket}/"], _aws_env(dst))

    def version(self) -> str:
        return _version(["s5cmd", "version"])


class AwsCli(TwoHop):
    name = "aws s3 sync (two hops)"

    def sync(self, src: Endpoint, src_bucket: str, dst: Endpoint, dst_bucket: str) -> None:
        _run(["aws", "s3", "sync", f"s3://{src_bucket}", str(self.stage), "--endpoint-url",
              src.url, "--only-show-errors"], _aws_env(src))
        _run(["aws", "s3", "sync", str(self.stage), f"s3://{dst_bucket}", "--endpoint-url",
              dst.url, "--only-show-errors"], _aws_env(dst))

    def version(self) -> str:
        return _version(["aws", "--version"], r"aws-cli/[\d.]+")


def all_contenders(workdir: Path) -> list[Contender]:
    return [Mirror(workdir), Rclone(workdir), Rclone(workdir, ("--fast-list",)),
            Rclone(workdir, ("--checksum",)), S5cmd(workdir), AwsCli(workdir)]
