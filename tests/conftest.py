"""Real S3 servers for the whole session, and helpers that run the real command.

Servers (started once, on 127.0.0.1, free ports):
- `minio_side`, `aws_side`: two SeaweedFS servers, the usual source and target;
- `rclone_side`: `rclone serve s3`, a second implementation with its own quirks;
- with MIRROR_TEST_MINIO=1, `minio_container`: MinIO through testcontainers. Asking for it
  where no Docker engine runs is an error, never a silent skip.

Buckets are seeded and checked with boto3, never with the mirror's own client.
"""

from __future__ import annotations

import datetime as dt
import http.client
import ipaddress
import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from report_servers import SlackServer

from bench.proxy import CountingProxy
from mirror import sandbox
from mirror.sandbox import LocalS3

ROOT = Path(__file__).resolve().parent.parent
_bucket_ids = itertools.count()


@pytest.fixture(scope="session")
def server_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("servers")


@pytest.fixture(scope="session")
def minio_side(server_root: Path) -> Iterator[LocalS3]:
    server = sandbox.start_seaweedfs(server_root / "minio-side")
    yield server
    server.stop()


READER = ("reader-access", "reader-secret-key")  # an aws_side user that may only read


@pytest.fixture(scope="session")
def aws_side(server_root: Path) -> Iterator[LocalS3]:
    server = sandbox.start_seaweedfs(server_root / "aws-side",
                                     extra_identities=((*READER, ("Read", "List")),))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def rclone_side(server_root: Path) -> Iterator[LocalS3]:
    server = sandbox.start_rclone(server_root / "rclone-side")
    yield server
    server.stop()


def private_ca(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a certificate for 127.0.0.1 that it signed: (ca, certificate, key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mirror test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(minutes=5))
          .not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                       crl_sign=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False,
                                       decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(pem))
    paths[1].write_bytes(leaf.public_bytes(pem))
    paths[2].write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


@pytest.fixture(scope="module")
def tls_rclone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalS3]:
    """rclone serve s3 over https, its certificate signed by a private CA (`ca_file`)."""
    folder = tmp_path_factory.mktemp("tls-rclone")
    ca, cert, key = private_ca(folder)
    server = sandbox.start_rclone(folder / "server", tls=(cert, key), ca_file=ca)
    yield server
    server.stop()


@pytest.fixture
def slack_api() -> Iterator[SlackServer]:
    """A local Slack Web API (`report_servers.SlackServer`), for one test."""
    server = SlackServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def minio_container(server_root: Path) -> Iterator[LocalS3]:
    if os.environ.get("MIRROR_TEST_MINIO") != "1":
        pytest.skip("MinIO container tests run only with MIRROR_TEST_MINIO=1 (needs Docker)")
    server = sandbox.start_minio_container(server_root / "minio-container")
    yield server
    server.stop()


def new_bucket(server: LocalS3, stem: str = "b") -> str:
    name = f"{stem}-{os.getpid() % 10000}-{next(_bucket_ids)}".lower()
    server.boto3().create_bucket(Bucket=name)
    return name


def put(server: LocalS3, bucket: str, objects: Mapping[str, bytes], **extra: Any) -> None:
    s3 = server.boto3()

    def one(item: tuple[str, bytes]) -> None:
        s3.put_object(Bucket=bucket, Key=item[0], Body=item[1], **extra)

    # Folder markers, and files that share their name with a folder ('k' beside 'k/x'), first
    # and one by one: SeaweedFS keeps no `k/` object when a key under it created the folder a
    # moment earlier, and a file 'k' racing the creation of 'k/x' may be lost the same way.
    folders = {key[: index + 1] for key in objects for index, char in enumerate(key)
               if char == "/"}
    first = sorted(item for item in objects.items()
                   if item[0].endswith("/") or f"{item[0]}/" in folders)
    for item in first:
        one(item)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, (item for item in objects.items() if item not in first)))


def put_multipart(server: LocalS3, bucket: str, key: str, body: bytes, part_size: int,
                  **extra: Any) -> None:
    """Upload `body` as a multipart object in parts of `part_size` (the last one shorter);
    `extra` goes with CreateMultipartUpload (ContentType, Metadata, Tagging)."""
    s3 = server.boto3()
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, **extra)["UploadId"]
    parts = []
    for number, start in enumerate(range(0, len(body), part_size), start=1):
        part = s3.upload_part(Bucket=bucket, Key=key, PartNumber=number, UploadId=upload_id,
                              Body=body[start : start + part_size])
        parts.append({"PartNumber": number, "ETag": part["ETag"]})
    s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id,
                                 MultipartUpload={"Parts": parts})


def listing(server: LocalS3, bucket: str, prefix: str = "") -> dict[str, dict[str, Any]]:
    """Every object under `prefix`, by key, listed by boto3 (see `LocalS3.objects`)."""
    return server.objects(bucket, prefix)


def contents(server: LocalS3, bucket: str, prefix: str = "") -> dict[str, bytes]:
    """Every object under `prefix`, read back in full (tests compare bytes, not sizes)."""
    s3 = server.boto3()

    def one(key: str) -> tuple[str, bytes]:
        return key, s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    with ThreadPoolExecutor(8) as pool:
        return dict(pool.map(one, listing(server, bucket, prefix)))


@dataclass
class Run:
    """One finished run of the real command: exit code, its JSON log events, raw output."""

    code: int
    events: list[dict[str, Any]]
    stderr: str
    stdout: str
    seconds: float
    env: dict[str, str] = field(repr=False, default_factory=dict)

    def named(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("event") == name]

    @property
    def summary(self) -> dict[str, Any]:
        done = self.named("run.done")
        assert done, f"no run.done event; stderr:\n{self.stderr[-3000:]}"
        return done[-1]

    def pair(self, index: int = 0) -> dict[str, Any]:
        return self.summary["pairs"][index]

    def decisions(self, index: int = 0) -> dict[str, int]:
        return {k: v["objects"] for k, v in self.pair(index)["decisions"].items()}

    def requests(self, side: str, index: int = 0) -> dict[str, int]:
        return dict(self.pair(index)["requests"].get(side, {}))


def proxy_in_front(server: LocalS3, **hooks: Any) -> CountingProxy:
    """A CountingProxy before `server` (hooks: answer, tamper, lose); point a URL at it.
    `with proxy_in_front(...) as proxy:` closes it at the end of the block."""
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    return CountingProxy(host, int(port), **hooks)


def relisted(server: LocalS3, target: str, headers: dict[str, str],
             rewrite: Callable[[bytes], bytes]) -> bytes:
    """A proxy's answer to the listing GET `target`: `server`'s own, its XML body passed
    through `rewrite` (entries reordered, added)."""
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    upstream = http.client.HTTPConnection(host, int(port), timeout=30)
    upstream.request("GET", target, headers=headers)
    response = upstream.getresponse()
    body = rewrite(response.read())
    upstream.close()
    return (f"HTTP/1.1 {response.status} {response.reason}\r\n"
            f"Content-Type: application/xml\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body


def base_env(**servers: LocalS3) -> dict[str, str]:
    """A clean environment: nothing from the developer's shell leaks into a run."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MIRROR_", "BUCKET_PAIR", "MINIO_", "AWS_", "SLACK_"))
           and k.lower() not in ("http_proxy", "https_proxy", "no_proxy", "all_proxy")}
    env["MIRROR_LOG_FORMAT"] = "json"
    for alias, server in servers.items():
        env.update(server.env(alias))
    return env


def run_mirror(env: Mapping[str, str], *args: str, timeout: float = 240) -> Run:
    """Run `python -m mirror` as its own process, as a CronJob would."""
    started = time.monotonic()
    completed = subprocess.run([sys.executable, "-m", "mirror", *args], env=dict(env),
                               capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                               check=False)
    events = []
    for line in completed.stderr.splitlines():
        if line.startswith("{"):
            events.append(json.loads(line))
    return Run(completed.returncode, events, completed.stderr, completed.stdout,
               time.monotonic() - started, dict(env))
