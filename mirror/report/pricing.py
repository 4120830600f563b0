"""What a run's requests cost: a small price table per store, kept as data.

Prices are US dollars per 1,000 requests, list prices without free tiers, checked on
2026-11-23 against each provider's own pricing page (the README cites them). Requests are
grouped the way the providers bill them:

- write: PUT and the multipart steps (AWS "PUT, COPY, POST, LIST"; R2 Class A),
- copy:  server-side COPY and part copies (billed as writes, except B2: Class C),
- list:  LIST (AWS bills it with writes; R2 Class A; Backblaze B2 Class C),
- read:  GET, GET_TAGGING and HEAD (AWS "GET and all other"; R2 Class B; B2 Class B),
- free:  aborting a multipart upload (AWS "DELETE and CANCEL are free"; R2 free operations).

An alias picks a table with `<ALIAS>_PRICING`, else from its provider and the storage class
its objects are written in (`<ALIAS>_STORAGE_CLASS`); `<ALIAS>_PRICE_CLASS_A` (writes and
lists) and `<ALIAS>_PRICE_CLASS_B` (reads) override a table's prices.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum

from mirror.s3.accounting import Op


class Category(StrEnum):
    WRITE = "write"
    COPY = "copy"
    LIST = "list"
    READ = "read"
    FREE = "free"


_OPS = frozenset(op.value for op in Op)
CATEGORY: dict[Op, Category] = {
    Op.LIST: Category.LIST, Op.HEAD: Category.READ, Op.GET: Category.READ,
    Op.GET_TAGGING: Category.READ,
    Op.PUT: Category.WRITE, Op.COPY: Category.COPY, Op.MPU_CREATE: Category.WRITE,
    Op.MPU_PART: Category.WRITE, Op.MPU_PART_COPY: Category.COPY,
    Op.MPU_COMPLETE: Category.WRITE, Op.MPU_ABORT: Category.FREE,
}


@dataclass(frozen=True)
class Pricing:
    """One store's request prices; `per_1000` is None when they are not known."""

    name: str
    label: str
    per_1000: Mapping[Category, Decimal] | None

    @property
    def known(self) -> bool:
        return self.per_1000 is not None

    def cost(self, requests: Mapping[str, int]) -> Decimal | None:
        """Dollars for these requests (operation name -> count), or None if not priced."""
        if self.per_1000 is None:
            return None
        total = Decimal(0)
        for op, n in requests.items():
            # an operation this table does not know yet is priced as a write, the dearest
            category = CATEGORY[Op(op)] if op in _OPS else Category.WRITE
            total += self.per_1000[category] * n / 1000
        return total


def _prices(write: str, list_: str, read: str, copy: str | None = None
            ) -> dict[Category, Decimal]:
    return {Category.WRITE: Decimal(write), Category.COPY: Decimal(copy or write),
            Category.LIST: Decimal(list_), Category.READ: Decimal(read),
            Category.FREE: Decimal(0)}


TABLES: dict[str, Pricing] = {p.name: p for p in (
    # aws.amazon.com/s3/pricing, US East (N. Virginia); other regions differ slightly.
    # Writes and reads are priced by the object's storage class; "LIST requests for any
    # storage class are charged at the same rate as S3 Standard PUT, COPY, and POST".
    Pricing("aws-s3-standard", "AWS S3 Standard", _prices("0.005", "0.005", "0.0004")),
    Pricing("aws-s3-intelligent-tiering", "AWS S3 Intelligent-Tiering",
            _prices("0.005", "0.005", "0.0004")),
    Pricing("aws-s3-standard-ia", "AWS S3 Standard-IA", _prices("0.01", "0.005", "0.001")),
    Pricing("aws-s3-onezone-ia", "AWS S3 One Zone-IA", _prices("0.01", "0.005", "0.001")),
    Pricing("aws-s3-glacier-ir", "AWS S3 Glacier Instant Retrieval",
            _prices("0.02", "0.005", "0.01")),
    Pricing("aws-s3-glacier", "AWS S3 Glacier Flexible Retrieval",
            _prices("0.03", "0.005", "0.0004")),
    Pricing("aws-s3-deep-archive", "AWS S3 Glacier Deep Archive",
            _prices("0.05", "0.005", "0.0004")),
    # developers.cloudflare.com/r2/pricing: Class A $4.50 / million, Class B $0.36 / million.
    Pricing("r2", "Cloudflare R2 Standard", _prices("0.0045", "0.0045", "0.00036")),
    Pricing("r2-infrequent-access", "Cloudflare R2 Infrequent Access",
            _prices("0.009", "0.009", "0.0009")),
    # backblaze.com transaction pricing: uploads (Class A) free, Class B $0.004 / 10,000,
    # Class C (lists, copies) $0.004 / 1,000.
    Pricing("b2", "Backblaze B2", _prices("0", "0.004", "0.0004", copy="0.004")),
    # Self-hosted stores (an in-cluster MinIO) and flat-priced ones (Vultr, Wasabi,
    # DigitalOcean Spaces) charge nothing per request.
    Pricing("none", "no request charges", _prices("0", "0", "0")),
    Pricing("unknown", "not priced", None),
)}

# The table an alias gets from its provider when `<ALIAS>_PRICING` is not set.
BY_PROVIDER: dict[str, str] = {
    "aws": "aws-s3-standard", "r2": "r2", "b2": "b2", "vultr": "none", "wasabi": "none",
    "digitalocean": "none", "minio": "none", "seaweedfs": "none", "rclone": "none",
    "ceph": "none", "generic": "unknown",
}


# Where a provider prices writes by storage class: (provider, class) -> table.
BY_STORAGE_CLASS: dict[tuple[str, str], str] = {
    ("aws", "STANDARD"): "aws-s3-standard",
    ("aws", "INTELLIGENT_TIERING"): "aws-s3-intelligent-tiering",
    ("aws", "STANDARD_IA"): "aws-s3-standard-ia",
    ("aws", "ONEZONE_IA"): "aws-s3-onezone-ia",
    ("aws", "GLACIER_IR"): "aws-s3-glacier-ir",
    ("aws", "GLACIER"): "aws-s3-glacier",
    ("aws", "DEEP_ARCHIVE"): "aws-s3-deep-archive",
    ("r2", "STANDARD"): "r2",
    ("r2", "STANDARD_IA"): "r2-infrequent-access",  # R2's Infrequent Access, as S3 names it
}


def default_for(alias: str, provider: str, storage_class: str | None = None) -> str:
    """The price table of an alias: from its provider and the storage class it writes in
    (a class without a table keeps the provider's); the `minio` alias is self-hosted."""
    if storage_class and (provider, storage_class) in BY_STORAGE_CLASS:
        return BY_STORAGE_CLASS[provider, storage_class]
    name = BY_PROVIDER.get(provider, "unknown")
    if name == "unknown" and alias == "minio":
        return "none"  # MINIO_URL is the in-cluster MinIO the product is made for
    return name


def with_overrides(base: Pricing, class_a: Decimal | None, class_b: Decimal | None) -> Pricing:
    """`base` with custom prices per 1,000 requests for class A (writes, lists) and B (reads)."""
    if class_a is None and class_b is None:
        return base
    prices = dict(base.per_1000 or _prices("0", "0", "0"))
    if class_a is not None:
        prices[Category.WRITE] = prices[Category.COPY] = prices[Category.LIST] = class_a
    if class_b is not None:
        prices[Category.READ] = class_b
    if (class_a is not None and class_b is not None) or not base.known:
        return Pricing("custom", "custom prices", prices)
    return replace(base, name=f"{base.name}+custom", label=f"{base.label}, custom prices",
                   per_1000=prices)
