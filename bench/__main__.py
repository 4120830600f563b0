"""`python -m bench`: the benchmark of minio-s3-mirror against rclone, s5cmd and aws.

Not part of the test suite. Starts two local SeaweedFS servers, generates the data, runs
every contender, and writes bench/results/<date>.md and .json. See the README's
"Performance" section for what the figures mean.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from bench import report, run_main
from bench.contenders import all_contenders
from bench.runner import Bench, Config, scale


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--large-count", type=int, default=8)
    parser.add_argument("--large-mib", type=int, default=64)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scale", default="100000,1000000",
                        help="comma-separated key counts for the scale test ('' to skip)")
    parser.add_argument("--only", default="", help="comma-separated contender name prefixes")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    config = Config(objects=args.objects, large_count=args.large_count,
                    large_size=args.large_mib * 1024 * 1024, runs=args.runs)
    bench = Bench(config)
    bench.start()
    try:
        tools = all_contenders(config.workdir)
        if args.only:
            wanted = [w.strip() for w in args.only.split(",")]
            tools = [t for t in tools if t.name == "minio-s3-mirror"
                     or any(t.name.startswith(w) for w in wanted)]
        print(f"measuring {', '.join(t.name for t in tools)}")
        results = bench.measure(tools)
        print("references")
        floor = bench.list_floor()
        raw = bench.raw_transfers()
    finally:
        bench.stop()
    sizes = [int(s) for s in args.scale.split(",") if s.strip()]
    print("scale")
    scaled = scale(sizes)
    env = report.machine()
    args.out.mkdir(parents=True, exist_ok=True)
    table = report.markdown(config, results, floor, raw, scaled, env)
    (args.out / f"{env['date']}.md").write_text(table)
    (args.out / f"{env['date']}.json").write_text(json.dumps({
        "machine": env, "config": {**asdict(config), "workdir": str(config.workdir)},
        "contenders": [asdict(r) for r in results], "list_floor": floor, "raw": raw,
        "scale": scaled}, indent=2))
    print(table)


if __name__ == "__main__":
    run_main(main)
