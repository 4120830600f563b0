"""The request-counting proxy the tests and the benchmark measure with."""

from __future__ import annotations

import dataclasses
import socket
import time

from conftest import new_bucket

from bench.proxy import CountingProxy
from mirror.sandbox import LocalS3


def test_a_request_cut_off_mid_body_is_neither_counted_nor_left_in_flight(
        aws_side: LocalS3) -> None:
    """A client that hangs up mid-PUT is no PUT sent, and no PUT still running: the peak of
    concurrent PUTs measured afterwards is the real one."""
    bucket = new_bucket(aws_side, "dst")
    host, port = aws_side.url.removeprefix("http://").rsplit(":", 1)
    proxy = CountingProxy(host, int(port))
    try:
        with socket.create_connection(("127.0.0.1", proxy.port)) as sock:
            sock.sendall(f"PUT /{bucket}/cut HTTP/1.1\r\nHost: {host}:{port}\r\n"
                         "Content-Length: 100\r\n\r\n".encode() + b"x" * 10)
        deadline = time.monotonic() + 10
        while proxy.in_flight["PUT"] and time.monotonic() < deadline:
            time.sleep(0.05)
        through_proxy = dataclasses.replace(aws_side, url=proxy.url).boto3()
        through_proxy.put_object(Bucket=bucket, Key="whole", Body=b"y" * 100)
        counts, written = proxy.snapshot()
        peak = proxy.peak["PUT"]
    finally:
        proxy.close()

    assert (counts, written, peak) == ({"PUT": 1}, ["whole"], 1)
    assert aws_side.boto3().get_object(Bucket=bucket, Key="whole")["Body"].read() == b"y" * 100
