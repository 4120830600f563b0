"""A store that keeps failing a request: each retry is a warning in the log, as it happens,
and the pair's error says how many tries it took. A server that accepts connections and
never answers waits the read timeout (60 s) on each of 5 tries: five silent minutes before,
and a message naming one timeout."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from conftest import base_env, contents, new_bucket, run_mirror

from mirror.sandbox import LocalS3


@pytest.fixture
def closing_port() -> Iterator[str]:
    """A TCP port that accepts each connection and closes it without a word."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    stop.set()
    sock.close()


def test_each_retry_is_logged_and_the_error_counts_the_tries(
        closing_port: str, aws_side: LocalS3) -> None:
    dst = new_bucket(aws_side, "dst")
    env = {**base_env(aws=aws_side), "MINIO_URL": closing_port, "MINIO_ACCESS_KEY": "k",
           "MINIO_SECRET_KEY": "minio-secret", "BUCKET_PAIR": f"minio/photos:aws/{dst}"}

    run = run_mirror(env)

    assert run.code == 1
    retries = run.named("request.retrying")
    assert [(e["level"], e["operation"], e["bucket"], e["attempt"]) for e in retries] == [
        ("warning", "LIST", "photos", n) for n in range(1, 5)]
    assert all(e["error"].startswith(f"connection to {closing_port[7:]} lost: ")
               for e in retries)
    error = run.pair()["error"]
    assert error.startswith("cannot list the source minio/photos: ")
    assert error.endswith(" (5 tries)")
    assert contents(aws_side, dst) == {}
