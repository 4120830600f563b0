"""The benchmark's outputs: a markdown table for the README and a JSON file with everything."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
from datetime import UTC, datetime
from typing import Any

from bench.runner import Config, Measured


def spread(values: list[float], fmt: str = "{:.2f}") -> str:
    if not values:
        return "n/a"
    mid = statistics.median(values)
    if len(values) == 1:
        return fmt.format(mid)
    return f"{fmt.format(mid)} ({fmt.format(min(values))}–{fmt.format(max(values))})"


def rate(count: float, seconds: list[float], fmt: str = "{:.0f}") -> str:
    return spread([count / s for s in seconds], fmt)


def ratio(ours: list[float], theirs: list[float]) -> str:
    """Their time over ours, run by run (>1: we are faster), median and range."""
    pairs = [t / o for o, t in zip(ours, theirs, strict=False)]
    return spread(pairs, "{:.2f}×") if pairs else "n/a"


def _requests(counts: dict[str, int]) -> str:
    return ", ".join(f"{op} {n}" for op, n in sorted(counts.items())) or "none"


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next((line.split(":", 1)[1].strip() for line in info
                        if line.startswith("model name")), cpu)
    except OSError:
        pass
    weed = subprocess.run(["weed", "version"], capture_output=True, text=True, check=False)
    return {"date": datetime.now(UTC).strftime("%Y-%m-%d"), "cpu": cpu,
            "cores": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(),
            "seaweedfs": " ".join(weed.stdout.split()[1:3]) if weed.stdout else "unknown"}


def markdown(config: Config, results: list[Measured], floor: list[float],
             raw: dict[str, list[float]], scale: list[dict[str, Any]],
             env: dict[str, Any]) -> str:
    ours = results[0]
    large_mb = config.large_count * config.large_size / 1e6
    lines = [
        f"Measured {env['date']} on {env['cores']} cores ({env['cpu']}), Python "
        f"{env['python']}, SeaweedFS {env['seaweedfs']}; {config.objects:,} objects of "
        f"1–16 KiB over 100 date prefixes; {config.large_count} × "
        f"{config.large_size // data_mib()} MiB (half multipart at the source). Median of "
        f"{config.runs} runs, min–max in brackets.",
        "",
        "| contender | version | W1 initial, objects/s | W2 no-op, s | W3 incremental, s "
        "| W3 exact | W4 large, MB/s | W1 time vs ours |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for m in results:
        if m.error:
            lines.append(f"| {m.name} | {m.version} | failed: {m.error[:80]} | | | | | |")
            continue
        lines.append(
            f"| {m.name} | {m.version} | {rate(config.objects, m.w1)} | {spread(m.w2)} | "
            f"{spread(m.w3)} | {'yes' if m.w3_exact else 'no'} | "
            f"{rate(large_mb, m.w4, '{:.0f}')} | "
            f"{'—' if m is ours else ratio(ours.w1, m.w1)} |")
    lines += ["", "Requests per side (exact, counted by a proxy in a separate pass):", "",
              "| contender | W2 no-op: source | W2 no-op: target | W3: target | W3 keys written |",
              "|---|---|---|---|---|"]
    for m in results:
        if m.error or "w2" not in m.requests:
            continue
        lines.append(f"| {m.name} | {_requests(m.requests['w2']['source'])} | "
                     f"{_requests(m.requests['w2']['target'])} | "
                     f"{_requests(m.requests['w3']['target'])} | {m.w3_detail} |")
    lines += ["", "References (same servers, same run):", "",
              f"- listing both buckets at once (the floor of a no-op): {spread(floor)} s",
              f"- raw GET of the small set to local disk (s5cmd): "
              f"{rate(config.objects, raw['get_small'])} objects/s",
              f"- raw PUT of the small set from local disk (s5cmd): "
              f"{rate(config.objects, raw['put_small'])} objects/s",
              f"- raw PUT of the large set from local disk (rclone): "
              f"{rate(large_mb, raw['put_large'])} MB/s", "",
              "Scale (the mirror's diff over synthetic listings, one process per size):", "",
              "| keys per side | diff time, s | keys/s | peak RSS, MiB |", "|---|---|---|---|"]
    for s in scale:
        lines.append(f"| {s['keys']:,} | {s['seconds']:.2f} | {s['keys_per_second']:,} | "
                     f"{s['peak_rss_mib']} |")
    return "\n".join(lines) + "\n"


def data_mib() -> int:
    return 1024 * 1024
