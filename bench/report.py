"""The benchmark's outputs: a markdown table for the README and a JSON file with everything.

`python -m bench.report bench/results/<date>.json` writes the markdown again from a JSON
file (after a change to the report, without measuring again).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
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
    if any(m.cpu for m in results):
        lines += ["", "CPU seconds the tool's own processes spent (user + system), median: the "
                  "servers share the same cores, so a tool's CPU is taken from them.", "",
                  "| contender | W1 | W2 | W3 | W4 |", "|---|---|---|---|---|"]
        for m in results:
            if m.error or not m.cpu:
                continue
            cells = [f"{statistics.median(m.cpu[w]):.2f}" if m.cpu.get(w) else "n/a"
                     for w in ("w1", "w2", "w3", "w4")]
            lines.append(f"| {m.name} | {' | '.join(cells)} |")
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
    lines += ["", "Targets (issue #5), ratios run by run:", "",
              "| target | measured | met |", "|---|---|---|"]
    lines += [f"| {name} | {measured} | {'yes' if met else '**no**'} |"
              for name, measured, met in targets(config, results, raw, scale)]
    return "\n".join(lines) + "\n"


def _median_ratio(ours: list[float], theirs: list[float]) -> float:
    """Their time over ours, run by run, median: above 1 means we are faster."""
    return statistics.median(t / o for o, t in zip(ours, theirs, strict=False))


def targets(config: Config, results: list[Measured], raw: dict[str, list[float]],
            scale: list[dict[str, Any]]) -> list[tuple[str, str, bool]]:
    """Each target of the performance issue: what was measured, and whether it is met."""
    ours, by_name = results[0], {m.name: m for m in results if not m.error}
    rows: list[tuple[str, str, bool]] = []
    rclone, checksum = by_name.get("rclone sync"), by_name.get("rclone sync --checksum")
    s5cmd = by_name.get("s5cmd sync (two hops)")
    if rclone:
        r = _median_ratio(ours.w1, rclone.w1)
        rows.append(("W1 ≥ 1.25× rclone's objects/s", f"{r:.2f}×", r >= 1.25))
    if s5cmd:
        r = _median_ratio(ours.w1, s5cmd.w1)
        rows.append(("W1 ahead of s5cmd's two-hop sync", f"{r:.2f}×", r > 1))
    ops = {op for side in ("source", "target") for op in ours.requests.get("w2", {}).get(side, {})}
    rows.append(("W2 sends only LIST requests", ", ".join(sorted(ops)) or "none",
                 ops <= {"LIST"}))
    if checksum:
        r = _median_ratio(ours.w2, checksum.w2)
        rows.append(("W2 time ≤ rclone --checksum's", f"theirs / ours = {r:.2f}×", r >= 1))
    rows.append(("W3 exact (no missed same-size rewrite)", ours.w3_detail or "n/a",
                 bool(ours.w3_exact)))
    changes = config.objects // 50  # 1% rewritten and 1% added
    budget = [w2 + changes * w1 / config.objects for w1, w2 in zip(ours.w1, ours.w2, strict=False)]
    r = _median_ratio(ours.w3, budget)
    rows.append(("W3 time ≤ no-op time + the copies at W1's rate",
                 f"{statistics.median(ours.w3):.2f} s vs {statistics.median(budget):.2f} s "
                 f"({r:.2f}×)", r >= 1))
    large_mb = config.large_count * config.large_size / 1e6
    if rclone:
        r = _median_ratio(ours.w4, rclone.w4)
        rows.append(("W4 ≥ rclone's MB/s", f"{r:.2f}×", r >= 1))
    if raw.get("put_large"):
        ceiling = large_mb / statistics.median(raw["put_large"])
        r = large_mb / statistics.median(ours.w4) / ceiling
        rows.append(("W4 ≥ 0.9× the raw PUT ceiling", f"{r:.2f}× of {ceiling:.0f} MB/s", r >= 0.9))
    if scale:
        peak = max(s["peak_rss_mib"] for s in scale)
        flat = peak / min(s["peak_rss_mib"] for s in scale)
        rows.append(("scale: peak RSS < 200 MiB, flat in the key count",
                     f"{peak} MiB at {scale[-1]['keys']:,} keys; largest / smallest "
                     f"{flat:.2f}×", peak < 200 and flat < 1.25))
    return rows


def data_mib() -> int:
    return 1024 * 1024


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__)
    parser.add_argument("json_file", type=Path)
    args = parser.parse_args()
    data = json.loads(args.json_file.read_text())
    names = {f.name for f in fields(Config)}
    config = Config(**{k: v for k, v in data["config"].items() if k in names and k != "workdir"})
    results = [Measured(**m) for m in data["contenders"]]
    table = markdown(config, results, data["list_floor"], data["raw"], data["scale"],
                     data["machine"])
    args.json_file.with_suffix(".md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
