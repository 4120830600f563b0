"""HTTPS_PROXY / HTTP_PROXY / NO_PROXY: a cluster whose egress goes through a proxy.

The proxy is a real forwarding proxy (tests/proxy_server.py); the endpoints are the real
SeaweedFS servers over http and `rclone serve s3` over https with a certificate from a
private CA (so the CONNECT tunnel and <ALIAS>_CA_FILE are exercised together).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import base_env, contents, new_bucket, put, run_mirror
from proxy_server import ForwardProxy

from mirror import sandbox
from mirror.s3.proxy import bypassed, parse_proxy
from mirror.sandbox import LocalS3

PASSWORD = "pr0xy-s3cret"


@pytest.fixture
def proxy() -> Iterator[ForwardProxy]:
    server = ForwardProxy(credentials=("mirror", PASSWORD))
    yield server
    server.close()


def _objects() -> dict[str, bytes]:
    return {f"day/{i:02d}.bin": bytes([i]) * (1000 + i) for i in range(12)}


def test_http_endpoints_go_through_the_proxy_with_its_credentials(
        minio_side: LocalS3, aws_side: LocalS3, proxy: ForwardProxy) -> None:
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, _objects())

    run = run_mirror({**base_env(minio=minio_side, aws=aws_side),
                      "BUCKET_PAIR": f"minio/{src}:aws/{dst}",
                      "HTTP_PROXY": proxy.url("mirror", PASSWORD)})

    assert run.code == 0, run.stderr[-2000:]
    assert contents(aws_side, dst) == _objects()
    targets = {s.target.split("/")[2] for s in proxy.seen}
    assert targets == {minio_side.url.split("/")[2], aws_side.url.split("/")[2]}
    assert all(s.target.startswith("http://") for s in proxy.seen)  # absolute form
    assert proxy.refused == 0
    assert run.named("run.start")[0]["proxies"] == {"minio": f"127.0.0.1:{proxy.port}",
                                                    "aws": f"127.0.0.1:{proxy.port}"}
    assert PASSWORD not in run.stderr + run.stdout


def test_no_proxy_reaches_the_named_hosts_directly(
        minio_side: LocalS3, aws_side: LocalS3, proxy: ForwardProxy) -> None:
    """The usual cluster setup: the in-cluster store is in NO_PROXY, the cloud is not."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, _objects())
    source_port = minio_side.url.rsplit(":", 1)[1]

    run = run_mirror({**base_env(minio=minio_side, aws=aws_side),
                      "BUCKET_PAIR": f"minio/{src}:aws/{dst}",
                      "http_proxy": proxy.url("mirror", PASSWORD),
                      "no_proxy": f"example.com, 127.0.0.1:{source_port}"})

    assert run.code == 0, run.stderr[-2000:]
    assert contents(aws_side, dst) == _objects()
    assert {s.target.split("/")[2] for s in proxy.seen} == {aws_side.url.split("/")[2]}


def test_a_proxy_that_wants_credentials_fails_the_pair_with_the_fix(
        minio_side: LocalS3, aws_side: LocalS3, proxy: ForwardProxy) -> None:
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, _objects())

    run = run_mirror({**base_env(minio=minio_side, aws=aws_side),
                      "BUCKET_PAIR": f"minio/{src}:aws/{dst}",
                      "HTTP_PROXY": proxy.url(), "NO_PROXY": ""})

    assert run.code == 1
    assert proxy.refused >= 1
    assert run.pair()["status"] == "failed"
    assert (f"proxy 127.0.0.1:{proxy.port} requires authentication (407): put them in the "
            "proxy URL: http://user:password@host:port") in run.pair()["error"]
    assert contents(aws_side, dst) == {}
    assert "Traceback" not in run.stderr


def test_a_proxy_that_does_not_answer_names_the_variable_that_set_it(
        minio_side: LocalS3, aws_side: LocalS3) -> None:
    """A proxy variable left from another network: the error names it, and the way round."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    put(minio_side, src, _objects())
    port = sandbox.free_port()

    run = run_mirror({**base_env(minio=minio_side, aws=aws_side),
                      "BUCKET_PAIR": f"minio/{src}:aws/{dst}",
                      "http_proxy": f"http://127.0.0.1:{port}", "NO_PROXY": ""})

    assert run.code == 1
    assert run.pair()["error"] == (
        f"cannot list the source minio/{src}: connection refused by proxy 127.0.0.1:{port} "
        "(5 tries); check http_proxy, or add the endpoint's host to NO_PROXY to reach it directly")
    assert contents(aws_side, dst) == {}


def test_https_goes_through_a_connect_tunnel_verified_by_the_private_ca(
        minio_side: LocalS3, tls_rclone: LocalS3, proxy: ForwardProxy) -> None:
    src, dst = new_bucket(minio_side, "src"), new_bucket(tls_rclone, "dst")
    put(minio_side, src, _objects())
    assert tls_rclone.url.startswith("https://")

    run = run_mirror({**base_env(minio=minio_side, r2=tls_rclone),
                      "BUCKET_PAIR": f"minio/{src}:r2/{dst}",
                      "HTTPS_PROXY": proxy.url("mirror", PASSWORD)})

    assert run.code == 0, run.stderr[-2000:]
    assert contents(tls_rclone, dst) == _objects()
    # only the https endpoint used the proxy (HTTPS_PROXY), through a tunnel: the proxy
    # saw no request, only where to connect
    assert {(s.method, s.target) for s in proxy.seen} == {
        ("CONNECT", tls_rclone.url.split("/")[2])}
    assert PASSWORD not in run.stderr + run.stdout


def test_an_untrusted_certificate_is_refused_through_the_tunnel(
        minio_side: LocalS3, tls_rclone: LocalS3, proxy: ForwardProxy) -> None:
    src, dst = new_bucket(minio_side, "src"), new_bucket(tls_rclone, "dst")
    put(minio_side, src, _objects())
    env = {**base_env(minio=minio_side, r2=tls_rclone), "BUCKET_PAIR": f"minio/{src}:r2/{dst}",
           "HTTPS_PROXY": proxy.url("mirror", PASSWORD)}
    del env["R2_CA_FILE"]

    run = run_mirror(env)

    assert run.code == 1
    assert "TLS certificate of 127.0.0.1 does not verify" in run.pair()["error"]
    assert "set R2_CA_FILE to its PEM bundle" in run.pair()["error"]
    assert contents(tls_rclone, dst) == {}


@pytest.mark.parametrize(("value", "expected"), [
    ("https://mirror:pr0xy-s3cret@proxy:3128", "must be an http:// proxy URL"),
    ("socks5://mirror:pr0xy-s3cret@proxy:1080", "must be an http:// proxy URL"),
    ("http://mirror:pr0xy-s3cret@proxy:99999", "has an invalid port"),
    # a '/' in the password ends the host part early: read as host 'mirror', port 'pr0xy'
    ("http://mirror:4242/pr0xy-s3cret@proxy:3128", "has an @ outside its host part"),
    ("http://mirror:pr0xy-s3cret@[proxy:3128", "is not a valid URL ([ and ] may only enclose"),
])
def test_a_bad_proxy_url_is_a_configuration_error_that_hides_the_password(
        minio_side: LocalS3, aws_side: LocalS3, value: str, expected: str) -> None:
    run = run_mirror({**base_env(minio=minio_side, aws=aws_side),
                      "BUCKET_PAIR": "minio/a:aws/b", "HTTP_PROXY": value})

    assert run.code == 2
    assert f"HTTP_PROXY {expected}" in run.stderr
    assert PASSWORD not in run.stderr + run.stdout
    assert [e["event"] for e in run.events] == ["config.invalid"]  # nothing ran


@pytest.mark.parametrize("output", [
    {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_CHANNEL_ID": "C1"},  # https://slack.com/api/
    {"MIRROR_PUSHGATEWAY_URL": "https://pushgateway.example:9091"},
])
def test_a_bad_proxy_only_the_summary_would_use_is_refused_before_the_run(
        minio_side: LocalS3, aws_side: LocalS3, output: dict[str, str]) -> None:
    """The S3 endpoints are http, the Slack API or the Pushgateway https: HTTPS_PROXY is
    theirs alone, and is checked at start, not found unusable after the whole run."""
    run = run_mirror({**base_env(minio=minio_side, aws=aws_side), **output,
                      "BUCKET_PAIR": "minio/a:aws/b",
                      "HTTPS_PROXY": f"socks5://mirror:{PASSWORD}@proxy:1080"})

    assert run.code == 2
    assert "HTTPS_PROXY must be an http:// proxy URL" in run.stderr
    assert PASSWORD not in run.stderr + run.stdout
    assert [e["event"] for e in run.events] == ["config.invalid"]


def test_proxy_urls_and_no_proxy_rules() -> None:
    proxy = parse_proxy("http://us%40er:p%3Ass@proxy.corp:3128")
    assert (proxy.address, proxy.password) == ("proxy.corp:3128", "p:ss")
    assert proxy.authorization == "Basic dXNAZXI6cDpzcw=="  # base64("us@er:p:ss")
    assert PASSWORD not in repr(parse_proxy(f"http://u:{PASSWORD}@p:1"))
    assert parse_proxy("proxy:8080").address == "proxy:8080"
    rules = ".svc.cluster.local, 10.0.0.0/8, s3.local:9000, [::1]"
    assert bypassed("minio.minio.svc.cluster.local", 9000, rules)
    assert bypassed("10.43.0.7", 9000, rules)
    assert bypassed("s3.local", 9000, rules)
    assert not bypassed("s3.local", 9001, rules)
    assert bypassed("::1", 9000, rules)
    assert not bypassed("s3.ap-northeast-2.amazonaws.com", 443, rules)
    assert not bypassed("evilsvc.cluster.local.example", 443, rules)
    assert bypassed("anything", 1, "*")
