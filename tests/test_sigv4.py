"""Signing and addressing, checked against AWS's own published example."""

from __future__ import annotations

from mirror.providers import PROVIDERS
from mirror.s3.accounting import RequestCounter
from mirror.s3.client import EndpointConfig, PoolRegistry, S3Client
from mirror.s3.sigv4 import EMPTY_SHA256, Credentials, CredentialSource, Signer, uri_encode

# From the S3 documentation, "Signature Calculations for the Authorization Header:
# Transferring Payload in a Single Chunk", example GET Object.
EXAMPLE = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
MAY_24_2013 = 1369353600.0


def test_signature_matches_the_aws_documentation_example() -> None:
    """GET /test.txt with a Range header signs to the signature AWS publishes."""
    headers = {"host": "examplebucket.s3.amazonaws.com", "range": "bytes=0-9"}
    Signer("us-east-1").sign("GET", "/test.txt", "", headers, EXAMPLE, EMPTY_SHA256,
                             now=MAY_24_2013)
    assert headers["authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    assert headers["x-amz-date"] == "20130524T000000Z"


def _client(url: str, provider: str) -> S3Client:
    endpoint = EndpointConfig(url, "us-east-1", CredentialSource(EXAMPLE),
                              virtual_host=PROVIDERS[provider].virtual_host)
    return S3Client(endpoint, PoolRegistry(), RequestCounter())


def test_aws_uses_virtual_hosts_and_other_stores_use_paths() -> None:
    """AWS gets bucket.s3.region.amazonaws.com; MinIO, R2 and others get /bucket/key."""
    aws = _client("https://s3.ap-northeast-2.amazonaws.com", "aws")
    assert aws._address("my-bucket", "a/b.txt") == (
        "my-bucket.s3.ap-northeast-2.amazonaws.com", "/a/b.txt")
    assert aws._address("my.dotted.bucket", "k") == (  # a dotted name breaks TLS wildcards
        "s3.ap-northeast-2.amazonaws.com", "/my.dotted.bucket/k")
    r2 = _client("https://abc.r2.cloudflarestorage.com", "r2")
    assert r2._address("bucket", None) == ("abc.r2.cloudflarestorage.com", "/bucket")


def test_keys_are_encoded_once_and_slashes_are_kept_verbatim() -> None:
    """Every byte but the unreserved ones is %XX; '//' and a leading '/' survive as they are."""
    assert uri_encode("a b+c=d%e?f#g&h~i", keep_slash=True) == (
        "a%20b%2Bc%3Dd%25e%3Ff%23g%26h~i")
    assert uri_encode("한/😀", keep_slash=True) == "%ED%95%9C/%F0%9F%98%80"
    client = _client("http://127.0.0.1:9000", "generic")
    assert client._address("b", "a//b/")[1] == "/b/a//b/"
    assert client._address("b", "/leading")[1] == "/b//leading"
