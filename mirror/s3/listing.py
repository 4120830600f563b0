"""ListObjectsV2 pages, parsed lean: listing is where a no-op run spends its time.

A full XML parser (ElementTree, as boto3 and the minio SDK use) builds a tree per page;
the mirror needs five fields per object, which regular expressions over the raw page give
about three times faster. S3 list responses are flat and machine-written, so this is safe;
anything unexpected (no <ListBucketResult>, a truncated page without a continuation token)
is an error, not a guess.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html import unescape
from typing import NamedTuple
from urllib.parse import unquote_plus

from mirror.s3.errors import server_time

_CONTENTS = re.compile(rb"<Contents>(.*?)</Contents>", re.S)
_FIELD = re.compile(rb"<(Key|LastModified|ETag|Size|StorageClass)>([^<]*)</")
_PREFIX = re.compile(rb"<CommonPrefixes>\s*<Prefix>([^<]*)</Prefix>", re.S)
_TOP = re.compile(rb"<(IsTruncated|NextContinuationToken|EncodingType)>([^<]*)</")
_EACH = {name: re.compile(rb"<" + name + rb">([^<]*)</" + name + rb">")
         for name in (b"Key", b"LastModified", b"ETag", b"Size", b"StorageClass")}


class ObjectInfo(NamedTuple):
    """One object as a listing describes it. `key` is relative to the listed location."""

    key: str
    size: int
    etag: str  # lower-case, without quotes: "0cc1...", or "0cc1...-3" for multipart
    last_modified: str  # as listed, ISO 8601 UTC
    storage_class: str = "STANDARD"
    listed_etag: str = ""  # the ETag in the store's own case, when that is not lower case

    @property
    def match_etag(self) -> str:
        """The ETag to send back in If-Match, as the store wrote it: stores compare it
        exactly, and some (Alibaba OSS) write ETags in upper case."""
        return self.listed_etag or self.etag


@dataclass(frozen=True, slots=True)
class ListPage:
    objects: list[ObjectInfo]
    prefixes: list[str]
    next_token: str | None


class ListingParseError(Exception):
    pass


def unquote_etag(raw: str) -> str:
    """ETags arrive quoted, unquoted (rclone), XML-escaped or weak-prefixed: the value."""
    if raw.startswith("&quot;") and raw.endswith("&quot;"):  # the common case, fast
        return raw[6:-6]
    value = raw.strip()
    if "&" in value:
        value = unescape(value)
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"')


def normalize_etag(raw: str) -> str:
    """The ETag's value in lower case, as ETags are compared here."""
    return unquote_etag(raw).lower()


def split_etag(raw: str) -> tuple[str, str]:
    """(`ObjectInfo.etag`, `ObjectInfo.listed_etag`) of an ETag as a store sent it."""
    listed = unquote_etag(raw)
    etag = listed.lower()
    return etag, listed if listed != etag else ""


def _object(key: str, size: int, raw_etag: str, last_modified: str,
            storage_class: str) -> ObjectInfo:
    etag, listed = split_etag(raw_etag)
    return ObjectInfo(key, size, etag, last_modified, storage_class, listed)


def _text(raw: bytes) -> str:
    text = raw.decode("utf-8")
    return unescape(text) if "&" in text else text


def _key_decoder(url_encoded: bool) -> Callable[[bytes], str]:
    def key_of(raw: bytes) -> str:
        text = _text(raw)
        if url_encoded and ("%" in text or "+" in text):
            return unquote_plus(text)
        return text

    return key_of


def _objects_by_field(body: bytes, key_of: Callable[[bytes], str], strip: int,
                      ) -> list[ObjectInfo] | None:
    """The fast path: one scan per field over the whole page, zipped by position.

    Valid only when every <Contents> has each field exactly once; otherwise None, and the
    caller parses entry by entry.
    """
    count = body.count(b"<Contents>")
    keys = _EACH[b"Key"].findall(body)
    times = _EACH[b"LastModified"].findall(body)
    etags = _EACH[b"ETag"].findall(body)
    sizes = _EACH[b"Size"].findall(body)
    classes = _EACH[b"StorageClass"].findall(body)
    if not len(keys) == len(times) == len(etags) == len(sizes) == count:
        return None
    if len(classes) != count:
        if classes:
            return None
        classes = [b"STANDARD"] * count
    return [_object(key_of(k)[strip:], int(z), e.decode(), t.decode(), c.decode() or "STANDARD")
            for k, t, e, z, c in zip(keys, times, etags, sizes, classes, strict=True)]


def _objects_by_entry(body: bytes, key_of: Callable[[bytes], str],
                      strip: int) -> list[ObjectInfo]:
    objects = []
    for block in _CONTENTS.findall(body):
        fields = dict(_FIELD.findall(block))
        try:
            objects.append(_object(
                key=key_of(fields[b"Key"])[strip:],
                size=int(fields[b"Size"]),
                raw_etag=fields.get(b"ETag", b"").decode("utf-8"),
                last_modified=fields.get(b"LastModified", b"").decode("ascii").strip(),
                storage_class=fields.get(b"StorageClass", b"").decode("ascii") or "STANDARD",
            ))
        except (KeyError, ValueError) as exc:
            raise ListingParseError(f"malformed <Contents> entry: {block[:200]!r}") from exc
    return objects


def parse_list_page(body: bytes, strip: int = 0) -> ListPage:
    """Parse one ListObjectsV2 response; `strip` characters are cut from each key's start."""
    if b"<ListBucketResult" not in body[:4096]:
        raise ListingParseError("response is not a ListBucketResult")
    first, last = body.find(b"<Contents>"), body.rfind(b"</Contents>")
    outside = body if first < 0 or last < 0 else body[:first] + body[last:]
    top = dict(_TOP.findall(outside))
    key_of = _key_decoder(top.get(b"EncodingType", b"").strip() == b"url")
    objects = (_objects_by_field(body, key_of, strip) if first >= 0 else [])
    if objects is None:
        objects = _objects_by_entry(body, key_of, strip)
    prefixes = [key_of(p)[strip:] for p in _PREFIX.findall(outside)]
    truncated = top.get(b"IsTruncated", b"false").strip().lower() == b"true"
    token = _text(top[b"NextContinuationToken"]) if b"NextContinuationToken" in top else None
    if truncated and not token:
        raise ListingParseError("truncated listing without a NextContinuationToken")
    return ListPage(objects, prefixes, token if truncated else None)


_UPLOAD = re.compile(rb"<Upload>(.*?)</Upload>", re.S)
_UPLOAD_FIELD = re.compile(rb"<(Key|UploadId|Initiated)>([^<]*)</")


def parse_uploads(body: bytes) -> Iterator[tuple[str, str, float]]:
    """ListMultipartUploads: each upload's (key, upload ID, initiated as POSIX time; 0 when
    unreadable). Keys are URL-decoded where the answer says it encoded them."""
    key_of = _key_decoder(b"<EncodingType>url</EncodingType>" in body)
    for entry in _UPLOAD.findall(body):
        fields = dict(_UPLOAD_FIELD.findall(entry))
        initiated = fields.get(b"Initiated", b"").decode("ascii", "replace").strip()
        when = server_time(initiated, None) or 0.0
        yield key_of(fields.get(b"Key", b"")), _text(fields.get(b"UploadId", b"")), when
