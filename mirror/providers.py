"""What differs between S3 implementations, kept as data rather than `if`s in the code.

A provider is chosen per alias: `<ALIAS>_PROVIDER` if set, else recognised from the
endpoint's host name, else `generic` (S3 as AWS documents it, which MinIO follows).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class ListingOrder(StrEnum):
    """The order in which a server lists keys."""

    UTF8 = "utf8"  # plain UTF-8 byte order, as AWS, MinIO and rclone list
    FOLDERS_FIRST = "folders-first"  # a folder's contents before siblings below '/' (SeaweedFS)


@dataclass(frozen=True)
class KeyRule:
    """A kind of key the store cannot hold as it is: it would be renamed or rejected."""

    pattern: str
    reason: str
    only_if_not_empty: bool = False

    def problem(self, key: str, size: int) -> str | None:
        if self.only_if_not_empty and size == 0:
            return None
        return self.reason if re.search(self.pattern, key) else None


MAX_KEY_BYTES = 1024  # S3's longest key, in UTF-8: AWS, MinIO, R2, B2, SeaweedFS, rclone
MAX_NAME_BYTES = 255  # a file system's longest name: a path segment, where keys are paths

# '.' or '..' as a path segment of a key: AWS holds such keys; MinIO, SeaweedFS and rclone
# refuse them (and anything that resolves paths on the way would write another key).
DOT_SEGMENTS = KeyRule(r"(^|/)\.\.?(/|$)", "rejects '.' and '..' as a path segment of a key")


@dataclass(frozen=True)
class Provider:
    name: str
    virtual_host: bool = False  # bucket in the host name instead of the path
    listing_order: ListingOrder = ListingOrder.UTF8
    etags_are_md5: bool = True  # a single-part object's ETag is the MD5 of its bytes
    multipart_etag: str = "composite"  # "composite" (md5 of part md5s, -N) or "opaque"
    key_rules: tuple[KeyRule, ...] = ()
    default_region: str = "us-east-1"
    tags: bool = True  # stores object tags (x-amz-tagging); where unsure, a refusal tells
    # A key and its folder marker (`k`, `k/`) are one entry, as in a filesystem: writing
    # the marker replaces a file `k` that has keys under it (SeaweedFS).
    marker_replaces_file: bool = False
    # A marker `k/` written while a key under it creates the folder `k` is lost (SeaweedFS,
    # about one in a hundred): new markers are written after the pair's other copies.
    markers_last: bool = False
    folder_markers: bool = True  # holds empty `k/` objects (rclone: folders exist by content)
    # Lists an object written with `x-amz-meta-mtime` (rclone's own convention, which rclone
    # as a client puts on every upload) as modified at that time, not when it was written:
    # a copy carrying the source's value would not look written after the source was.
    time_from_mtime: bool = False
    # Keys are paths of a file system: a file `k` and keys under `k/` cannot both exist
    # (rclone serve s3 answers 500 to a PUT of `k/x` while `k` is a file).
    file_blocks_folder: bool = False
    # Has listed a key after a greater one while the mirror's copies landed in the bucket
    # it listed (rclone serve s3, once in CI; cause not pinned down): pages are sorted.
    unsorted_while_written: bool = False
    # Keeps each '/'-separated segment of a key as a file name, refused past this many
    # bytes (SeaweedFS: KeyTooLongError; rclone serve s3: a 500)
    max_segment_bytes: int | None = None

    def key_problem(self, key: str, size: int) -> str | None:
        length = len(key.encode("utf-8", "surrogatepass"))
        if length > MAX_KEY_BYTES:
            return (f"{self.name} refuses keys longer than 1,024 bytes (this one is {length} "
                    "in UTF-8, with the target pair's folder)")
        if self.max_segment_bytes is not None and any(
                len(segment.encode("utf-8", "surrogatepass")) > self.max_segment_bytes
                for segment in key.split("/")):
            return (f"{self.name} refuses a key whose path segment (between '/') is longer "
                    f"than {self.max_segment_bytes} bytes")
        for rule in self.key_rules:
            reason = rule.problem(key, size)
            if reason:
                return f"{self.name} {reason}"
        return None


PROVIDERS: dict[str, Provider] = {p.name: p for p in (
    Provider("generic"),
    Provider("minio", key_rules=(DOT_SEGMENTS,)),
    Provider("aws", virtual_host=True),
    # R2 lists single-part ETags as MD5s, but the ETag of a multipart object is not
    # derived from its parts (rclone's provider table says the same).
    Provider("r2", multipart_etag="opaque", default_region="auto", tags=False),
    Provider("b2"),
    Provider("vultr"),
    Provider("wasabi"),
    Provider("digitalocean"),
    Provider("ceph"),
    Provider("seaweedfs", listing_order=ListingOrder.FOLDERS_FIRST, marker_replaces_file=True,
             markers_last=True, max_segment_bytes=MAX_NAME_BYTES,
             key_rules=(
        KeyRule("//", "stores '//' in a key as '/'"),
        KeyRule(r"\\", "stores '\\' in a key as '/'"),
        KeyRule("^/", "drops a key's leading '/'"),
        KeyRule("/$", "keeps a key ending in '/' only as an empty folder",
                only_if_not_empty=True),
        DOT_SEGMENTS,
    )),
    Provider("rclone", tags=False, folder_markers=False, time_from_mtime=True,
             file_blocks_folder=True, unsorted_while_written=True,
             max_segment_bytes=MAX_NAME_BYTES, key_rules=(
        KeyRule("//", "rejects '//' in a key"),
        KeyRule("^/", "rejects a key's leading '/'"),
        KeyRule("/$", "drops a key's trailing '/'"),
        KeyRule("[\x00-\x1f\x7f]", "rewrites control characters in a key"),
        DOT_SEGMENTS,
    )),
)}

_HOSTS: tuple[tuple[str, str], ...] = (
    (r"(^|\.)amazonaws\.com(\.cn)?$", "aws"),
    (r"\.r2\.cloudflarestorage\.com$", "r2"),
    (r"(^|\.)backblazeb2\.com$", "b2"),
    (r"(^|\.)vultrobjects\.com$", "vultr"),
    (r"(^|\.)wasabisys\.com$", "wasabi"),
    (r"(^|\.)digitaloceanspaces\.com$", "digitalocean"),
)
_REGION_IN_HOST = (
    re.compile(r"^(?:.+\.)?s3(?:-fips)?[.-](?:dualstack\.)?([a-z]{2}(?:-gov)?-[a-z]+-\d)"
               r"\.amazonaws\.com"),
    re.compile(r"^s3\.([a-z]{2}-[a-z]+-\d{3})\.backblazeb2\.com$"),
    re.compile(r"^([a-z]{2,4}\d)\.vultrobjects\.com$"),
    re.compile(r"^s3\.([a-z]{2}-[a-z]+-\d)\.wasabisys\.com$"),
    re.compile(r"^([a-z]{3}\d)\.digitaloceanspaces\.com$"),
)


def provider_for_host(host: str) -> Provider:
    for pattern, name in _HOSTS:
        if re.search(pattern, host):
            return PROVIDERS[name]
    return PROVIDERS["generic"]


def region_for_host(host: str) -> str | None:
    """The region an endpoint's host name carries (s3.ap-northeast-2.amazonaws.com)."""
    for pattern in _REGION_IN_HOST:
        found = pattern.match(host)
        if found:
            return found.group(1)
    return None
