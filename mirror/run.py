"""A run: every pair (at most three at the same time), sharing workers and a memory budget."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import UTC, datetime
from typing import Any

from mirror import logs
from mirror.engine import PairRun, RunResources
from mirror.executor import BoundedExecutor, MemoryBudget, Throttle
from mirror.resources import (
    Limits,
    freed_memory_trimmer,
    raise_open_files_limit,
    read_limits,
    return_freed_buffers,
    size_run,
)
from mirror.s3.client import EndpointConfig, PoolRegistry
from mirror.s3.sigv4 import Credentials, CredentialSource, CredentialsUnavailable, ServerClock
from mirror.settings import Alias, Settings
from mirror.summary import RunSummary

MAX_CONCURRENT_PAIRS = 3
# After SIGTERM, how long requests in flight may take to finish on their own before their
# connections are cut: a pod has 60 s by default before SIGKILL, and a server that stopped
# answering would otherwise hold a request for the whole read timeout.
CUT_OFF_AFTER = 10.0
SIGNAL_POLL = 0.2  # seconds the main thread waits at most before it runs signal handlers


def _cut_off(stop: threading.Event, finished: threading.Event, pools: PoolRegistry) -> None:
    """Once stopped, give requests in flight CUT_OFF_AFTER seconds, then cut them."""
    while not finished.wait(0.2):
        if stop.is_set():
            if not finished.wait(CUT_OFF_AFTER):
                cut = pools.abandon()
                if cut:
                    logs.get().warning("run.cut_off", requests=cut,
                                       detail=f"requests still in flight {CUT_OFF_AFTER:g}s "
                                              "after the stop were abandoned")
            return


def _credential_chain(alias: Alias, clock: Callable[[], float] = time.monotonic,
                      ) -> CredentialSource:
    """The standard AWS chain (env, IRSA web identity, profiles, instance metadata).

    Temporary credentials (IRSA, instance or container roles) come from botocore as
    refreshing credentials: they are kept and asked for their current value, which calls
    STS or the metadata service again only as they near expiry. Keys from the environment
    or from files are looked up again every minute, so a rotated file is picked up."""
    kept: list[Any] = []  # the refreshing credentials, once found

    def resolve() -> Any:
        import botocore.credentials
        import botocore.session

        if kept:
            return kept[0]
        found = botocore.session.get_session().get_credentials()
        if isinstance(found, botocore.credentials.RefreshableCredentials):
            kept.append(found)
        return found

    def fetch() -> Credentials:
        import botocore.exceptions

        try:
            found = resolve()
            frozen = found.get_frozen_credentials() if found is not None else None
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            # e.g. STS refusing AssumeRoleWithWebIdentity: a bad trust policy, an expired
            # service account token. botocore's message names no secret.
            raise CredentialsUnavailable(
                f"the standard AWS credential chain for the alias {alias.name!r} failed: "
                f"{type(exc).__name__}: {exc}") from exc
        if frozen is None:
            raise CredentialsUnavailable(
                f"the alias {alias.name!r} has no {alias.variable('ACCESS_KEY')}/_SECRET_KEY "
                "and the standard AWS credential chain found no credentials (no IAM role?)")
        logs.redactor.add(frozen.secret_key, frozen.token)
        return Credentials(frozen.access_key, frozen.secret_key, frozen.token)

    return CredentialSource(fetch=fetch, refresh_every=60.0, clock=clock)


def endpoint_for(alias: Alias) -> EndpointConfig:
    if alias.credential_chain:
        credentials = _credential_chain(alias)
    else:
        assert alias.access_key
        assert alias.secret_key
        credentials = CredentialSource(Credentials(alias.access_key, alias.secret_key,
                                                   alias.session_token))
    def skewed(offset: float) -> None:
        logs.get().warning(
            "clock.skewed", alias=alias.name, endpoint=alias.url, seconds=round(offset),
            message=f"this machine's clock is {abs(round(offset))} s "
                    f"{'behind' if offset > 0 else 'ahead of'} the server's; requests are "
                    "signed with the server's time, but the clock should be set right (NTP)")

    return EndpointConfig(alias.url, alias.region, credentials,
                          virtual_host=alias.provider.virtual_host,
                          sort_pages=alias.provider.unsorted_while_written,
                          ssl_context=alias.ssl_context,
                          proxy=alias.proxy, clock=ServerClock(report=skewed))


def _proxies(settings: Settings) -> dict[str, dict[str, str]]:
    """The proxy each alias goes through, by host and port only (never its credentials)."""
    found = {name: a.proxy.address for name, a in settings.aliases.items() if a.proxy}
    return {"proxies": found} if found else {}


def run(settings: Settings, *, stop: threading.Event | None = None,
        limits: Limits | None = None, executor: BoundedExecutor | None = None) -> RunSummary:
    """Mirror every pair; never raises for a failure of a pair or an object.

    `limits` and `executor` are seams for tests (a fixed machine size, an executor that
    acts between the listing and the copy); production passes neither.
    """
    stop = stop or threading.Event()
    log = logs.get()
    return_freed_buffers()  # before the first buffer: memory follows the budget
    open_files = raise_open_files_limit()  # a connection per worker and side and AWS bucket
    limits = limits or read_limits()
    sizing = size_run(limits, settings.part_size, settings.max_workers,
                      settings.large_transfers)
    started, started_at = time.monotonic(), datetime.now(UTC).isoformat(timespec="seconds")
    log.info("run.start", pairs=[str(p) for p in settings.pairs], dry_run=settings.dry_run,
             overwrite=settings.overwrite, prefixes=[p for p in settings.prefixes if p],
             exclude=list(settings.exclude.patterns), workers=sizing.workers,
             large_transfers=sizing.large_transfers,
             memory_budget_mib=sizing.memory_budget // (1024 * 1024),
             part_size_mib=sizing.part_size // (1024 * 1024), limits=limits.source,
             cpus=round(limits.cpus, 2), memory_mib=limits.memory // (1024 * 1024),
             open_files=open_files,
             bandwidth_limit_mib_s=(round(settings.bandwidth_limit / (1024 * 1024), 2)
                                    if settings.bandwidth_limit else None),
             **_proxies(settings))
    pools = PoolRegistry(max_idle=sizing.workers * 2)
    executor = executor or BoundedExecutor(sizing.workers, name="copy")
    parts = ThreadPoolExecutor(max_workers=sizing.workers, thread_name_prefix="part")
    resources = RunResources(
        settings=settings, endpoints={n: endpoint_for(a) for n, a in settings.aliases.items()},
        pools=pools, executor=executor, parts=parts,
        budget=MemoryBudget(sizing.memory_budget, trim=freed_memory_trimmer()),
        part_size=sizing.part_size, streams=threading.Semaphore(sizing.large_transfers),
        stop=stop,
        throttle=Throttle(settings.bandwidth_limit) if settings.bandwidth_limit else None)
    finished = threading.Event()
    threading.Thread(target=_cut_off, args=(stop, finished, pools), name="cut-off",
                     daemon=True).start()
    try:
        with ThreadPoolExecutor(max_workers=MAX_CONCURRENT_PAIRS,
                                thread_name_prefix="pair") as pair_pool:
            futures = [pair_pool.submit(PairRun(pair, resources).run) for pair in settings.pairs]
            # never one wait without a timeout: a signal the kernel delivers to another
            # thread runs its handler only once the main thread wakes (it alone runs them)
            while wait(futures, timeout=SIGNAL_POLL).not_done:
                pass
            summaries = [f.result() for f in futures]
    finally:
        finished.set()
        executor.shutdown()
        parts.shutdown()
        pools.close()
    summary = RunSummary(service=settings.service, dry_run=settings.dry_run,
                         started_at=started_at, pairs=summaries,
                         seconds=time.monotonic() - started, interrupted=stop.is_set(),
                         dated_prefixes=settings.dated_prefixes,
                         prices={name: a.pricing for name, a in settings.aliases.items()})
    log.info("run.done", **summary.to_dict())
    return summary
