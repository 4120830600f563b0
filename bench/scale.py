"""Scale: time and peak memory of the diff over synthetic listings of N keys per side.

Run as `python -m bench.scale N` (a fresh process per N, so peak RSS is its own). Pages of
ListObjectsV2 XML are generated lazily for both sides and go through the mirror's real
pipeline: the lean page parser, the order check, the merge-join and the decision. The
target misses 0.5% of the keys and holds different content for another 0.5%.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections import Counter
from collections.abc import Iterator

from mirror.decision import Policy, decide
from mirror.exclude import Exclude
from mirror.merge import merge_join
from mirror.order import checked
from mirror.providers import PROVIDERS, ListingOrder
from mirror.s3.listing import ObjectInfo, parse_list_page

PAGE = 1000


def peak_rss_mib() -> float:
    """This process's own peak RSS. Not ru_maxrss: Linux carries that across exec from the
    parent, so a benchmark that forks while holding data would inflate it."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
STAMP = "2025-01-22T10:00:00.000Z"


def _key(i: int) -> str:
    return f"2025/{1 + i // 2_000_000:02d}/{1 + i // 100_000 % 20:02d}/obj-{i:09d}.bin"


def pages(n: int, side: str) -> Iterator[bytes]:
    for start in range(0, n, PAGE):
        entries = []
        for i in range(start, min(start + PAGE, n)):
            if side == "target" and i % 200 == 7:
                continue  # missing on the target
            etag = f"{i:032x}" if side == "source" or i % 200 != 11 else f"{i + 1:032x}"
            entries.append(f"<Contents><Key>{_key(i)}</Key><LastModified>{STAMP}</LastModified>"
                           f"<ETag>&quot;{etag}&quot;</ETag><Size>{4096 + i % 997}</Size>"
                           "<StorageClass>STANDARD</StorageClass></Contents>")
        truncated = "true" if start + PAGE < n else "false"
        yield (f'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>b</Name>'
               f"<IsTruncated>{truncated}</IsTruncated>{''.join(entries)}"
               f"<NextContinuationToken>t{start}</NextContinuationToken>"
               "</ListBucketResult>").encode()


def objects(n: int, side: str) -> Iterator[ObjectInfo]:
    for page in pages(n, side):
        yield from parse_list_page(page).objects


def main(n: int) -> dict[str, object]:
    baseline = peak_rss_mib()
    started = time.perf_counter()
    for _ in pages(n, "source"):
        pass
    for _ in pages(n, "target"):
        pass
    generation = time.perf_counter() - started
    policy = Policy(overwrite=False, exclude=Exclude(), target_provider=PROVIDERS["generic"],
                    compare_etags=True)
    started = time.perf_counter()
    outcomes: Counter[str] = Counter()
    source = checked(objects(n, "source"), ListingOrder.UTF8, "source")
    target = checked(objects(n, "target"), ListingOrder.UTF8, "target")
    for src, dst in merge_join(source, target):
        outcomes[decide(src, dst, policy).action.value] += 1
    total = time.perf_counter() - started
    return {"keys": n, "seconds": round(total - generation, 3),
            "seconds_with_generation": round(total, 3),
            "keys_per_second": round(2 * n / max(total - generation, 1e-9)),
            "peak_rss_mib": peak_rss_mib(), "baseline_rss_mib": baseline,
            "outcomes": dict(outcomes)}


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]))))
