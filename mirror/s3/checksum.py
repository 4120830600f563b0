"""MD5, the checksum S3 speaks (Content-MD5, ETags). Not a security primitive here:
`usedforsecurity=False` says so, which also keeps FIPS-mode hosts working."""

from __future__ import annotations

import base64
import hashlib
from typing import Any


def md5(data: bytes | bytearray | memoryview = b"") -> Any:
    return hashlib.md5(data, usedforsecurity=False)


def b64_of_hex(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode()
