"""The `aws` alias without keys: a pod's IAM role (IRSA) through a real STS exchange.

`StsServer` plays AWS STS's AssumeRoleWithWebIdentity (botocore reaches it through
AWS_ENDPOINT_URL_STS) and hands out the keys of `rclone serve s3`, which accepts the session
token that temporary credentials carry (SeaweedFS refuses tokens it did not issue).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from conftest import base_env, contents, new_bucket, put, run_mirror

from mirror.run import _credential_chain
from mirror.sandbox import LocalS3
from mirror.settings import load_settings

TOKEN = "the-service-account-token"
ROLE = "arn:aws:iam::123456789012:role/mirror"


class StsServer:
    """Answers AssumeRoleWithWebIdentity with `keys`, expiring `lifetime` from now."""

    def __init__(self, access_key: str, secret_key: str, lifetime: timedelta) -> None:
        self.access_key, self.secret_key, self.lifetime = access_key, secret_key, lifetime
        self.calls: list[dict[str, list[str]]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                form = parse_qs(self.rfile.read(length).decode())
                owner.calls.append(form)
                n = len(owner.calls)
                expires = (datetime.now(UTC) + owner.lifetime).strftime("%Y-%m-%dT%H:%M:%SZ")
                body = (
                    '<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/'
                    '2011-06-15/"><AssumeRoleWithWebIdentityResult><Credentials>'
                    f"<AccessKeyId>{owner.access_key}</AccessKeyId>"
                    f"<SecretAccessKey>{owner.secret_key}</SecretAccessKey>"
                    f"<SessionToken>session-token-{n}</SessionToken>"
                    f"<Expiration>{expires}</Expiration></Credentials>"
                    "<SubjectFromWebIdentityToken>system:serviceaccount:backup:mirror"
                    "</SubjectFromWebIdentityToken><AssumedRoleUser>"
                    f"<Arn>{ROLE}/session</Arn><AssumedRoleId>AROA:session</AssumedRoleId>"
                    "</AssumedRoleUser></AssumeRoleWithWebIdentityResult><ResponseMetadata>"
                    f"<RequestId>req-{n}</RequestId></ResponseMetadata>"
                    "</AssumeRoleWithWebIdentityResponse>").encode()
                self.send_response(200)
                self.send_header("content-type", "text/xml")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def sts(rclone_side: LocalS3) -> Iterator[StsServer]:
    server = StsServer(rclone_side.access_key, rclone_side.secret_key, timedelta(hours=1))
    yield server
    server.close()


def _irsa_env(sts: StsServer, token_file: Path) -> dict[str, str]:
    """What EKS injects into a pod whose service account names an IAM role."""
    token_file.write_text(TOKEN)
    return {"AWS_ROLE_ARN": ROLE, "AWS_WEB_IDENTITY_TOKEN_FILE": str(token_file),
            "AWS_ENDPOINT_URL_STS": sts.url, "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"}


def test_a_pods_iam_role_mirrors_through_sts_with_one_exchange(
        minio_side: LocalS3, rclone_side: LocalS3, sts: StsServer, tmp_path: Path) -> None:
    """The service account token is exchanged once for temporary keys, which sign every
    request of the run; neither the token nor the keys appear in the logs."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(rclone_side, "dst")
    objects = {f"2026/01/{i:02d}/photo.jpg": f"photo {i}".encode() * 100 for i in range(30)}
    put(minio_side, src, objects)
    env = {**base_env(minio=minio_side), **_irsa_env(sts, tmp_path / "token"),
           "AWS_URL": rclone_side.url, "AWS_PROVIDER": "rclone",
           "BUCKET_PAIR": f"minio/{src}:aws/{dst}"}

    run = run_mirror(env)

    assert run.code == 0, run.stderr[-2000:]
    assert contents(rclone_side, dst) == objects
    assert len(sts.calls) == 1
    call = sts.calls[0]
    assert (call["Action"], call["RoleArn"], call["WebIdentityToken"]) == (
        ["AssumeRoleWithWebIdentity"], [ROLE], [TOKEN])
    logs = run.stdout + run.stderr
    for secret in (TOKEN, rclone_side.secret_key, "session-token-1"):
        assert secret not in logs



def test_the_chains_keys_are_blanked_like_static_ones(
        minio_side: LocalS3, rclone_side: LocalS3, sts: StsServer, tmp_path: Path) -> None:
    """Keys the chain hands out are secrets the configuration never named: once learned,
    they are blanked wherever they would appear (here, in a key that holds one)."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(rclone_side, "dst")
    leaky = f"notes/{rclone_side.secret_key}.txt"
    put(minio_side, src, {leaky: b"pasted by mistake"})
    env = {**base_env(minio=minio_side), **_irsa_env(sts, tmp_path / "token"),
           "AWS_URL": rclone_side.url, "AWS_PROVIDER": "rclone",
           "BUCKET_PAIR": f"minio/{src}:aws/{dst}"}

    run = run_mirror(env)

    assert run.code == 0, run.stderr[-2000:]
    assert contents(rclone_side, dst) == {leaky: b"pasted by mistake"}
    assert [e["key"] for e in run.named("object.copied")] == ["notes/[redacted].txt"]
    assert rclone_side.secret_key not in run.stdout + run.stderr

def _chain(monkeypatch: pytest.MonkeyPatch, sts: StsServer, tmp_path: Path,
           now: list[float]) -> object:
    for name, value in _irsa_env(sts, tmp_path / "token").items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings({"AWS_URL": "http://127.0.0.1:9", "BUCKET_PAIR": "aws/a:aws/b/c"})
    return _credential_chain(settings.aliases["aws"], clock=lambda: now[0])


def test_temporary_keys_are_asked_of_sts_again_only_near_their_expiry(
        monkeypatch: pytest.MonkeyPatch, sts: StsServer, tmp_path: Path) -> None:
    """An hour-long run with keys valid for an hour asks STS once, not once a minute."""
    now = [0.0]
    source = _chain(monkeypatch, sts, tmp_path, now)

    seen = set()
    for minute in range(30):
        now[0] = minute * 61.0
        seen.add(source.get().session_token)  # type: ignore[attr-defined]

    assert seen == {"session-token-1"}
    assert len(sts.calls) == 1


def test_keys_about_to_expire_are_renewed_before_the_next_request(
        monkeypatch: pytest.MonkeyPatch, rclone_side: LocalS3, tmp_path: Path) -> None:
    """Keys within botocore's refresh window are exchanged again, and the new ones used."""
    sts = StsServer(rclone_side.access_key, rclone_side.secret_key, timedelta(minutes=5))
    try:
        now = [0.0]
        source = _chain(monkeypatch, sts, tmp_path, now)

        tokens = []
        for minute in range(3):
            now[0] = minute * 61.0
            tokens.append(source.get().session_token)  # type: ignore[attr-defined]
    finally:
        sts.close()

    assert tokens == ["session-token-1", "session-token-2", "session-token-3"]
