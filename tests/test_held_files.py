"""Files held back until a SeaweedFS pair's other copies are done (a file `k` whose keys
continue in the next range): never let go early, and written one after the other."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

from mirror.decision import Action, Decision
from mirror.engine import EMPTY_MD5, MARKERS_HELD, PairRun, RunResources, _FileCopies
from mirror.executor import BoundedExecutor, MemoryBudget
from mirror.run import endpoint_for
from mirror.s3.client import PoolRegistry
from mirror.s3.listing import ObjectInfo
from mirror.settings import load_settings

NEW = Decision(Action.COPY_NEW, "only on the source")


def _pair_run() -> PairRun:
    """A SeaweedFS to SeaweedFS pair; nothing here sends a request."""
    settings = load_settings({
        "MINIO_URL": "http://127.0.0.1:9", "MINIO_ACCESS_KEY": "k", "MINIO_SECRET_KEY": "s",
        "MINIO_PROVIDER": "seaweedfs", "AWS_URL": "http://127.0.0.1:9",
        "AWS_ACCESS_KEY": "k", "AWS_SECRET_KEY": "s", "AWS_PROVIDER": "seaweedfs",
        "BUCKET_PAIR": "minio/src:aws/dst"})
    res = RunResources(
        settings=settings, endpoints={n: endpoint_for(a) for n, a in settings.aliases.items()},
        pools=PoolRegistry(), executor=BoundedExecutor(1), parts=None,
        budget=MemoryBudget(1 << 20), part_size=5 << 20, streams=threading.Semaphore(1),
        stop=threading.Event())
    return PairRun(settings.pairs[0], res)


def _obj(key: str, size: int = 1) -> ObjectInfo:
    return ObjectInfo(key, size, EMPTY_MD5 if not size else "0" * 32,
                      "2025-01-01T00:00:00.000Z")


def test_a_file_whose_keys_continue_in_the_next_range_is_held_past_the_markers_limit(
) -> None:
    """Past MARKERS_HELD new markers, a file `k` at a range's end was copied at once, while
    the next range wrote `k/b/x` (SeaweedFS then loses the new file now and then)."""
    pair = _pair_run()
    assert pair._held is not None
    pair._held.extend((_obj(f"m{i:05}/", 0), Action.COPY_NEW) for i in range(MARKERS_HELD))
    submitted: list[str] = []

    def submit(source: ObjectInfo, action: Action) -> Future[None]:
        submitted.append(source.key)
        done: Future[None] = Future()
        done.set_result(None)
        return done

    pair._submit = submit  # type: ignore[method-assign]
    pair._act(_obj("k"), None, NEW, _FileCopies(until="k/b/"))
    assert submitted == []
    assert pair._held[-1][0].key == "k"


def test_held_files_and_the_keys_under_them_are_written_one_after_the_other() -> None:
    """`k` and `k/m` (and a marker `k/m/z/`) both held at a range boundary: written at the
    same time, a new file and a key creating its folder, SeaweedFS lost the file."""
    pair = _pair_run()
    assert pair._held is not None
    pair._held.extend([(_obj("k/m/z/", 0), Action.COPY_NEW), (_obj("k/m"), Action.COPY_NEW),
                       (_obj("k"), Action.COPY_NEW), (_obj("j"), Action.COPY_NEW)])
    spans: dict[str, tuple[float, float]] = {}
    pool = ThreadPoolExecutor(4)

    def write(key: str) -> None:
        started = time.monotonic()
        time.sleep(0.2)
        spans[key] = (started, time.monotonic())

    pair._submit = lambda s, a: pool.submit(write, s.key)  # type: ignore[method-assign]
    pair._write_held()
    pool.shutdown()
    assert set(spans) == {"j", "k", "k/m", "k/m/z/"}
    assert spans["k"][1] <= spans["k/m"][0]
    assert spans["k/m"][1] <= spans["k/m/z/"][0]
