"""ListObjectsV2 pages, parsed lean: listing is where a no-op run spends its time.

A full XML parser (ElementTree, as boto3 and the minio SDK use) builds a tree per page;
the mirror needs five fields per object, which regular expressions over the raw page give
about three times faster. S3 list responses are flat and machine-written, so this is safe;
anything unexpected (no <ListBucketResult>, a truncated page without a continuation token)
is an error, not a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape
from urllib.parse import unquote_plus

_CONTENTS = re.compile(rb"<Contents>(.*?)</Contents>", re.S)
_FIELD = re.compile(rb"<(Key|LastModified|ETag|Size|StorageClass)>([^<]*)</")
_PREFIX = re.compile(rb"<CommonPrefixes>\s*<Prefix>([^<]*)</Prefix>", re.S)
_TOP = re.compile(rb"<(IsTruncated|NextContinuationToken|EncodingType)>([^<]*)</")


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """One object as a listing describes it. `key` is relative to the listed location."""

    key: str
    size: int
    etag: str  # lower-case, without quotes: "0cc1...", or "0cc1...-3" for multipart
    last_modified: str  # as listed, ISO 8601 UTC
    storage_class: str = "STANDARD"


@dataclass(frozen=True, slots=True)
class ListPage:
    objects: list[ObjectInfo]
    prefixes: list[str]
    next_token: str | None


class ListingParseError(Exception):
    pass


def normalize_etag(raw: str) -> str:
    """ETags arrive quoted, unquoted (rclone), XML-escaped or weak-prefixed."""
    value = raw.strip()
    if "&" in value:
        value = unescape(value)
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"').lower()


def _text(raw: bytes) -> str:
    text = raw.decode("utf-8")
    return unescape(text) if "&" in text else text


def parse_list_page(body: bytes, strip: int = 0) -> ListPage:
    """Parse one ListObjectsV2 response; `strip` characters are cut from each key's start."""
    head = body[:4096]
    if b"<ListBucketResult" not in head:
        raise ListingParseError("response is not a ListBucketResult")
    first, last = body.find(b"<Contents>"), body.rfind(b"</Contents>")
    outside = body if first < 0 or last < 0 else body[:first] + body[last:]
    top = dict(_TOP.findall(outside))
    url_encoded = top.get(b"EncodingType", b"").strip() == b"url"

    def key_of(raw: bytes) -> str:
        text = _text(raw)
        return unquote_plus(text) if url_encoded else text

    objects = []
    for block in _CONTENTS.findall(body):
        fields = dict(_FIELD.findall(block))
        try:
            key = key_of(fields[b"Key"])
            objects.append(ObjectInfo(
                key=key[strip:],
                size=int(fields[b"Size"]),
                etag=normalize_etag(fields.get(b"ETag", b"").decode("utf-8")),
                last_modified=fields.get(b"LastModified", b"").decode("ascii").strip(),
                storage_class=fields.get(b"StorageClass", b"").decode("ascii") or "STANDARD",
            ))
        except (KeyError, ValueError) as exc:
            raise ListingParseError(f"malformed <Contents> entry: {block[:200]!r}") from exc
    prefixes = [key_of(p)[strip:] for p in _PREFIX.findall(body)]
    truncated = top.get(b"IsTruncated", b"false").strip().lower() == b"true"
    token = _text(top[b"NextContinuationToken"]) if b"NextContinuationToken" in top else None
    if truncated and not token:
        raise ListingParseError("truncated listing without a NextContinuationToken")
    return ListPage(objects, prefixes, token if truncated else None)
