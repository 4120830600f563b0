"""Bucket pairs: `alias/bucket[/prefix]:alias/bucket[/prefix]`, separated by ';'."""

from __future__ import annotations

import re
from dataclasses import dataclass

_ALIAS = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_BUCKET = re.compile(r"^[A-Za-z0-9._-]{1,255}$")


class PairError(ValueError):
    pass


@dataclass(frozen=True)
class Location:
    """A place in an object store: alias, bucket and a folder prefix ('' or ending in '/')."""

    alias: str
    bucket: str
    prefix: str = ""

    def __str__(self) -> str:
        prefix = f"/{self.prefix.rstrip('/')}" if self.prefix else ""
        return f"{self.alias}/{self.bucket}{prefix}"

    def covers(self, other: Location) -> bool:
        return other.prefix.startswith(self.prefix)


@dataclass(frozen=True)
class Pair:
    source: Location
    target: Location

    def __str__(self) -> str:
        return f"{self.source}:{self.target}"


def parse_location(text: str, *, side: str, pair: str) -> Location:
    parts = text.strip().split("/", 2)
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise PairError(f"pair {pair!r}: the {side} {text.strip()!r} must be alias/bucket"
                        " (optionally alias/bucket/prefix)")
    alias, bucket = parts[0], parts[1]
    if not _ALIAS.match(alias):
        raise PairError(f"pair {pair!r}: alias {alias!r} must start with a letter and use only"
                        " letters, digits and '_' (it names environment variables)")
    if not _BUCKET.match(bucket) or not bucket.strip("."):
        raise PairError(f"pair {pair!r}: bucket {bucket!r} may only use letters, digits, '.',"
                        " '-' and '_', and not dots alone")
    prefix = parts[2].strip("/") if len(parts) == 3 else ""
    if any(segment in (".", "..") for segment in prefix.split("/")):
        # S3 keeps them in the key as written, MinIO and rclone refuse every such key: never
        # a path to resolve
        raise PairError(f"pair {pair!r}: the {side} folder {prefix!r} has a '.' or '..' "
                        "segment; a folder is named as it is, from the bucket's root")
    return Location(alias.lower(), bucket, prefix + "/" if prefix else "")


def parse_pair(text: str) -> Pair:
    pair = text.strip()
    if pair.count(":") != 1:
        hint = ""
        if "://" in pair:
            hint = "; a pair names alias/bucket, not a URL: the URL goes in <ALIAS>_URL"
        elif "," in pair and pair.count(":") > 1:
            hint = "; several pairs are separated by ';', not ','"
        elif pair.count(":") > 1:
            hint = ("; if a folder's name has a ':', keep the pair at the bucket and give "
                    "the folder in MIRROR_PREFIX")
        raise PairError(f"pair {pair!r} must be source:target, e.g. "
                        f"minio/source-bucket:aws/target-bucket (exactly one ':'){hint}")
    source_text, target_text = pair.split(":")
    return Pair(parse_location(source_text, side="source", pair=pair),
                parse_location(target_text, side="target", pair=pair))


def parse_pairs(text: str) -> list[Pair]:
    """Pairs separated by ';' (or newlines); blanks and empty entries are ignored."""
    entries = [e.strip() for e in re.split(r"[;\n]", text) if e.strip()]
    return [parse_pair(e) for e in entries]
