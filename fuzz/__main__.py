"""Seeded, reproducible end-to-end fuzzing of the mirror against real servers.

    python -m fuzz [--seeds 1 2 3] [--combos sw-sw sw-rc ...] [--variants whole ...] [--keys N]

COMBO: sw-sw (two SeaweedFS servers), sw-sw1 (one), sw-rc, rc-sw (SeaweedFS and rclone
serve s3), rc-rc (one rclone), rc-rc2 (two). VARIANT: whole; folders (pair folders on both
sides and MIRROR_PREFIX); srcfolder; flat (keys without '/', cut by key); flatprefix.
The servers are started here (127.0.0.1, free ports) and stopped at the end.

For each scenario: seed the source with adversarial keys (characters around '/' in byte
order, multi-byte UTF-8, files that are folders too, markers) and the target (identical,
different same size, different size, target-only keys), then
  1. dry run: its decisions are recorded, the target is untouched;
  2. real run: the target must hold exactly what the README's rules say, byte for byte;
     every key decided once; summary counts == events == oracle; the dry run predicted
     exactly the copies;
  3. rerun: no copies, only LIST requests;
  4. overwrite run: differing keys replaced; target-only keys untouched;
  5. rerun after overwrite: no copies.
Exit 1 when any scenario has problems (each is printed). Not part of the test suite: a
scenario of 4,000 keys takes 1-2 minutes; what it found is pinned by tests.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from mirror.providers import PROVIDERS
from mirror.sandbox import LocalS3, start_rclone, start_seaweedfs

ROOT = Path(__file__).resolve().parent.parent
EXCLUDE = "*.tmp"
SERVERS: dict[str, LocalS3] = {}
_WORKDIR = Path(tempfile.mkdtemp(prefix="mirror-fuzz-"))


def server(name: str) -> LocalS3:
    """The server `name` (sw1, sw2: SeaweedFS; rc, rc2: rclone), started on first use."""
    if name not in SERVERS:
        start = start_seaweedfs if name.startswith("sw") else start_rclone
        SERVERS[name] = start(_WORKDIR / name)
    return SERVERS[name]


# Characters around '/' in byte order, and beyond ASCII.
AROUND = ["!", "-", ".", "0", "~", "\x7f", " ", "+", "%", "_", "#"]
WIDE = ["é", "한", "😀", "\ufffd", "\uffef", "€", "\u0800", "𐀀", "Z", "a", "b"]
BASES = ["a", "a", "a", "ab", "b", "x", "é", "한"]


def name(rng: random.Random) -> str:
    n = rng.choice(BASES)
    for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
        n += rng.choice(AROUND if rng.random() < 0.6 else WIDE)
    if n in (".", ".."):
        n += "a"
    return n


def gen_keys(rng: random.Random, nkeys: int, top: str = "") -> dict[str, bytes]:
    folders = [top]
    for _ in range(70):
        parent = rng.choice(folders)
        if parent.count("/") >= 4:
            parent = top
        folders.append(parent + name(rng) + "/")
    folders = sorted(set(folders))
    big = rng.sample(folders, min(4, len(folders)))
    objects: dict[str, bytes] = {}
    i = 0
    while len(objects) < nkeys:
        i += 1
        folder = rng.choice(big) if rng.random() < 0.5 else rng.choice(folders)
        leaf = name(rng)
        r = rng.random()
        if r < 0.55:
            leaf += str(i)
        elif r < 0.6:
            leaf += ".tmp"
        key = folder + leaf
        size = rng.choice([0, 1, 5, 17, 40]) if rng.random() < 0.9 else rng.randrange(200)
        objects[key] = bytes(rng.randrange(256) for _ in range(size))
    for f in rng.sample(folders, min(25, len(folders))):  # empty folder markers
        if f:
            objects[f] = b""
    return objects


def gen_flat(rng: random.Random, nkeys: int) -> dict[str, bytes]:
    """Keys without '/', content-addressed-like and adversarial: cut by key, not folder."""
    objects: dict[str, bytes] = {}
    while len(objects) < nkeys:
        r = rng.random()
        if r < 0.4:
            key = name(rng) + f"{rng.getrandbits(20):05x}"
        elif r < 0.7:
            key = "".join(rng.choice(AROUND + WIDE + ["\U0010fffd", "\ud7ff", "\ue000"])
                          for _ in range(rng.randrange(1, 6)))
        else:
            key = rng.choice(["a", "a!", "a-", "a.", "é", "é한", "😀", "\uffef"]) + str(
                rng.randrange(100000))
        if key in (".", ".."):
            continue
        size = rng.choice([0, 1, 5, 17, 40])
        objects[key] = bytes(rng.randrange(256) for _ in range(size))
    return objects


def holdable(kind: str, objects: dict[str, bytes]) -> dict[str, bytes]:
    """What a store of `kind` can hold of `objects` (deterministic, before seeding)."""
    out = dict(objects)
    files = {k for k in out if not k.endswith("/")}
    if kind == "rclone":  # no markers; a file and keys under it cannot coexist
        out = {k: v for k, v in out.items() if not k.endswith("/")}
        dirs = {k[: i] for k in out for i, c in enumerate(k) if c == "/"}
        out = {k: v for k, v in out.items() if k not in dirs}
        out = {k: v for k, v in out.items() if "\x7f" not in k}  # rclone rewrites it
    else:  # seaweedfs: a marker y/ and a file y are one entry
        out = {k: v for k, v in out.items() if not (k.endswith("/") and k[:-1] in files)}
    return out


def put_all(srv: LocalS3, bucket: str, objects: dict[str, bytes]) -> None:
    s3 = srv.boto3()
    for k in sorted(k for k in objects if k.endswith("/")):
        s3.put_object(Bucket=bucket, Key=k, Body=objects[k])

    def one(item: tuple[str, bytes]) -> None:
        s3.put_object(Bucket=bucket, Key=item[0], Body=item[1])

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(one, [(k, v) for k, v in objects.items() if not k.endswith("/")]))


def listing(srv: LocalS3, bucket: str) -> dict[str, dict[str, Any]]:
    return srv.objects(bucket)


def contents(srv: LocalS3, bucket: str) -> dict[str, bytes]:
    s3 = srv.boto3()

    def one(k: str) -> tuple[str, bytes]:
        return k, s3.get_object(Bucket=bucket, Key=k)["Body"].read()

    with ThreadPoolExecutor(16) as pool:
        return dict(pool.map(one, listing(srv, bucket)))


def run_mirror(env: dict[str, str], timeout: float = 900) -> dict[str, Any]:
    t = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "mirror"], env=env, capture_output=True,
                       text=True, timeout=timeout, cwd=ROOT, check=False)
    events = [json.loads(line) for line in p.stderr.splitlines() if line.startswith("{")]
    done = [e for e in events if e.get("event") == "run.done"]
    if os.environ.get("FUZZ_SAVE"):
        n = len(list(Path(os.environ["FUZZ_SAVE"]).glob("*.jsonl")))
        Path(os.environ["FUZZ_SAVE"], f"{n}.jsonl").write_text(p.stderr)
    return {"code": p.returncode, "events": events, "stderr": p.stderr,
            "summary": done[-1] if done else None, "seconds": time.monotonic() - t}


def base_env(src: LocalS3, dst: LocalS3) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MIRROR_", "BUCKET_PAIR", "MINIO_", "AWS_", "SLACK_"))
           and k.lower() not in ("http_proxy", "https_proxy", "no_proxy", "all_proxy")}
    env["MIRROR_LOG_FORMAT"] = "json"
    env["MIRROR_PRINT_SUMMARY"] = "false"
    env.update(src.env("src"))
    env.update(dst.env("dst"))
    return env


def oracle(rel_s: dict[str, bytes], rel_t: dict[str, bytes], tkind: str, tfolder: str,
           overwrite: bool) -> dict[str, str]:
    """Expected action per relative key, from the README's rules."""
    prov = PROVIDERS[tkind]
    exp: dict[str, str] = {}
    # files the target will hold after the run (for file-blocks-folder)
    for k in rel_t:
        if k not in rel_s:
            exp[k] = "target-only"
    for k in sorted(rel_s):
        v = rel_s[k]
        full = tfolder + k
        if k in rel_t:
            if v == rel_t[k]:
                exp[k] = "unchanged"
            else:
                exp[k] = "copy-changed" if overwrite else "differs-kept"
            continue
        leaf = k.rsplit("/", 1)[-1]
        marker = not v and k[-1:] in ("", "/")
        if leaf.endswith(".tmp") or (k == "" and not tfolder) or (
                marker and not prov.folder_markers):
            exp[k] = "excluded"
        elif prov.key_problem(full, len(v)):
            exp[k] = "unsupported-key"
        else:
            exp[k] = "copy-new"
    # keys .tmp on both sides are excluded too (exclude comes before comparison)
    for k in rel_s:
        if k.rsplit("/", 1)[-1].endswith(".tmp"):
            exp[k] = "excluded"
    if tkind == "rclone":  # a key under a file the target holds (or gets) is refused,
        # and so is a new file where the target holds a folder of that name
        tdirs = {k[:i] for k in rel_t for i, c in enumerate(k) if c == "/"}
        holds = set(rel_t)
        for k in sorted(exp):
            if exp[k] not in ("copy-new", "copy-changed"):
                continue
            parts = k.split("/")
            if any("/".join(parts[:i]) in holds for i in range(1, len(parts))) or k in tdirs:
                exp[k] = "unsupported-key"
            else:
                holds.add(k)
    if tkind == "seaweedfs":  # a marker y/ over a target file y
        for k in list(exp):
            if exp[k] in ("copy-new", "copy-changed") and k.endswith("/") and k[:-1] in rel_t:
                exp[k] = "unsupported-key"
    return exp


class Scenario:
    def __init__(self, seed: int, combo: str, variant: str, nkeys: int) -> None:
        self.seed, self.combo, self.variant, self.nkeys = seed, combo, variant, nkeys
        sname, tname = {"sw-sw": ("sw1", "sw2"), "sw-sw1": ("sw1", "sw1"),
                        "sw-rc": ("sw1", "rc"), "rc-sw": ("rc", "sw1"),
                        "rc-rc": ("rc", "rc"), "rc-rc2": ("rc", "rc2")}[combo]
        self.src, self.dst = server(sname), server(tname)
        self.problems: list[str] = []
        self.log: list[str] = []

    def bad(self, msg: str) -> None:
        self.problems.append(msg)
        print("  PROBLEM:", msg[:2000], flush=True)

    def setup(self) -> None:
        rng = random.Random(self.seed)
        v = self.variant
        self.sfolder = {"whole": "", "folders": "sp/", "srcfolder": "sp/"}.get(v, "")
        self.tfolder = {"whole": "", "folders": "tp/", "srcfolder": ""}.get(v, "")
        self.prefixes = {"folders": ["a"], "flatprefix": ["a", "é"]}.get(v, [""])
        if v.startswith("flat"):
            keys = gen_flat(rng, self.nkeys)
        else:
            keys = gen_keys(rng, self.nkeys, self.sfolder)
            # keys outside the pair folder / prefix, adversarially near it
            for k in ["sp", "sp!x", "sp-x", "sp.x", "sp0", "sp~", "sp\x7f", "spé", "s", "sq/a",
                      "sp/b", "sp/!a", "sp/`", "sp/a", "sp/a/in", "sp/a!", "sp/A"]:
                keys.setdefault(k, k.encode())
        if self.sfolder:
            keys[self.sfolder] = b""  # the pair folder's own marker
        self.src_intended = holdable(self.src.kind, keys)
        # target: identical / same size different / other size / target-only
        tgt: dict[str, bytes] = {}
        relkeys = sorted(k[len(self.sfolder):] for k in self.src_intended
                         if k.startswith(self.sfolder))
        for rel in relkeys:
            body = self.src_intended[self.sfolder + rel]
            r = rng.random()
            if rel.endswith("/") or rel == "":  # markers: only the same (empty) one
                if r < 0.3:
                    tgt[self.tfolder + rel] = body
            elif r < 0.15:
                tgt[self.tfolder + rel] = body
            elif r < 0.20 and body:
                tgt[self.tfolder + rel] = bytes((b + 1) % 256 for b in body)
            elif r < 0.23:
                tgt[self.tfolder + rel] = body + b"+"
        for _ in range(self.nkeys // 20):  # target-only, adversarial as well
            rel = rng.choice(relkeys)
            cut = rng.randrange(len(rel) + 1)
            tgt.setdefault(self.tfolder + rel[:cut] + name(rng), b"target-only")
        for k in ["tp", "tp!", "tp-x", "tq/z", "tp/a", "tp/ax"]:
            if not v.startswith("flat"):
                tgt.setdefault(k, b"outside-" + k.encode())
        self.tgt_intended = holdable(self.dst.kind, tgt)
        s3s, s3t = self.src.boto3(), self.dst.boto3()
        tag = f"{self.seed}-{self.combo}-{v}-{os.getpid() % 10000}".replace("sw-sw1", "same")
        self.sbucket, self.tbucket = f"s-{tag}".lower(), f"t-{tag}".lower()
        s3s.create_bucket(Bucket=self.sbucket)
        s3t.create_bucket(Bucket=self.tbucket)
        t = time.monotonic()
        put_all(self.src, self.sbucket, self.src_intended)
        put_all(self.dst, self.tbucket, self.tgt_intended)
        self.S = contents(self.src, self.sbucket)
        self.T0 = contents(self.dst, self.tbucket)
        if os.environ.get("FUZZ_SAVE"):
            Path(os.environ["FUZZ_SAVE"], "seed.json").write_text(json.dumps(
                {"S": {k: v.hex() for k, v in self.S.items()},
                 "T": {k: v.hex() for k, v in self.T0.items()}}))
        print(f"  seeded {len(self.S)} source, {len(self.T0)} target keys in "
              f"{time.monotonic() - t:.0f}s", flush=True)
        if set(self.S) != set(self.src_intended):
            print("  note: source holds", len(set(self.S) ^ set(self.src_intended)),
                  "keys other than written:",
                  sorted(set(self.S) ^ set(self.src_intended))[:10])
        if set(self.T0) != set(self.tgt_intended):
            print("  note: target holds other keys than written:",
                  sorted(set(self.T0) ^ set(self.tgt_intended))[:10])

    def in_scope(self, rel: str) -> bool:
        return any(rel.startswith(p) for p in self.prefixes)

    def rel(self, objects: dict[str, bytes], folder: str) -> dict[str, bytes]:
        return {k[len(folder):]: v for k, v in objects.items()
                if k.startswith(folder) and self.in_scope(k[len(folder):])}

    def env(self, **extra: str) -> dict[str, str]:
        env = base_env(self.src, self.dst)
        pair = f"src/{self.sbucket}" + (f"/{self.sfolder[:-1]}" if self.sfolder else "")
        pair += f":dst/{self.tbucket}" + (f"/{self.tfolder[:-1]}" if self.tfolder else "")
        env.update(BUCKET_PAIR=pair, MIRROR_EXCLUDE=EXCLUDE, MIRROR_MAX_WORKERS="16",
                   MIRROR_DEBUG="true")
        if self.prefixes != [""]:
            env["MIRROR_PREFIX"] = ",".join(self.prefixes)
        env.update(extra)
        return env

    def decisions_of(self, run: dict[str, Any]) -> dict[str, str]:
        seen: dict[str, str] = {}
        dup: collections.Counter[str] = collections.Counter()
        for e in run["events"]:
            if e.get("event") == "object.decision":
                if e["key"] in seen:
                    dup[e["key"]] += 1
                seen[e["key"]] = e["action"]
        if dup:
            self.bad(f"keys decided more than once: {list(dup.items())[:10]}")
        return seen

    def check_summary(self, run: dict[str, Any], seen: dict[str, str], label: str) -> None:
        if run["summary"] is None:
            self.bad(f"{label}: no run.done; stderr tail: {run['stderr'][-2000:]}")
            return
        pair = run["summary"]["pairs"][0]
        if pair.get("error"):
            self.bad(f"{label}: pair error: {pair['error']}")
        counts = {k: v["objects"] for k, v in pair["decisions"].items()}
        ev = dict(collections.Counter(seen.values()))
        if counts != ev:
            self.bad(f"{label}: summary decisions {counts} != decision events {ev}")
        ranges = [e["ranges"] for e in run["events"] if e.get("event") == "pair.ranges"]
        self.log.append(f"{label}: {counts} ranges={ranges} req={pair['requests']} "
                        f"{run['seconds']:.0f}s")
        print("  ", self.log[-1], flush=True)

    def compare(self, exp: dict[str, str], seen: dict[str, str], label: str) -> None:
        diff = {k: (exp.get(k), seen.get(k)) for k in set(exp) | set(seen)
                if exp.get(k) != seen.get(k)}
        if diff:
            items = sorted(diff.items())[:25]
            self.bad(f"{label}: {len(diff)} keys decided otherwise than expected "
                     f"(key: (expected, observed)): {items}")

    def run(self) -> list[str]:
        print(f"== seed={self.seed} combo={self.combo} variant={self.variant}", flush=True)
        self.setup()
        rel_s, rel_t = self.rel(self.S, self.sfolder), self.rel(self.T0, self.tfolder)
        exp = oracle(rel_s, rel_t, self.dst.kind, self.tfolder, overwrite=False)

        # 1. dry run
        dry = run_mirror(self.env(MIRROR_DRY_RUN="true"))
        dry_seen = self.decisions_of(dry)
        self.check_summary(dry, dry_seen, "dry")
        self.compare(exp, dry_seen, "dry")
        if contents(self.dst, self.tbucket) != self.T0:
            self.bad("dry run changed the target")
        # 2. real run
        real = run_mirror(self.env())
        seen = self.decisions_of(real)
        self.check_summary(real, seen, "run")
        self.compare(exp, seen, "run")
        if seen != dry_seen:
            d = {k: (dry_seen.get(k), seen.get(k)) for k in set(seen) | set(dry_seen)
                 if seen.get(k) != dry_seen.get(k)}
            self.bad(f"dry run predicted otherwise (key: (dry, real)): {sorted(d.items())[:20]}")
        copied = {e["key"] for e in real["events"] if e.get("event") == "object.copied"}
        failed = {e["key"]: e.get("error") for e in real["events"]
                  if e.get("event") == "object.failed"}
        to_copy = {k for k, a in seen.items() if a in ("copy-new", "copy-changed")}
        # a pair that halts (its error is a problem of its own) interrupts its queued copies
        halted = bool(real["summary"] and real["summary"]["pairs"][0].get("error"))
        cut = {e["key"] for e in real["events"]
               if halted and e.get("event") == "object.interrupted"}
        if copied | cut | {k for k in failed if k in to_copy} != to_copy:
            self.bad(f"copies not accounted for: "
                     f"{sorted(to_copy - copied - cut - set(failed))[:10]}"
                     f" extra {sorted((copied | cut) - to_copy)[:10]}")
        real_failed = {k: e for k, e in failed.items() if seen.get(k) in ("copy-new",
                                                                        "copy-changed")}
        if real_failed:
            self.bad(f"copies failed: {sorted(real_failed.items())[:10]}")
        T1 = contents(self.dst, self.tbucket)
        self.check_target(T1, self.T0, copied, rel_s, "run")
        # 3. rerun: no-op
        again = run_mirror(self.env())
        seen2 = self.decisions_of(again)
        self.check_summary(again, seen2, "rerun")
        exp2 = oracle(rel_s, self.rel(T1, self.tfolder), self.dst.kind, self.tfolder, False)
        self.compare(exp2, seen2, "rerun")
        if again["summary"]:
            req = again["summary"]["pairs"][0]["requests"]
            ops = {op for side in req.values() for op in side}
            if ops - {"LIST"}:
                self.bad(f"rerun sent other requests than LIST: {req}")
            if any(a.startswith("copy") for a in seen2.values()):
                self.bad("rerun copies: " + str(sorted(k for k, a in seen2.items()
                                                       if a.startswith("copy"))[:10]))
        if contents(self.dst, self.tbucket) != T1:
            self.bad("rerun changed the target")
        # 4. overwrite
        exp3 = oracle(rel_s, self.rel(T1, self.tfolder), self.dst.kind, self.tfolder, True)
        over = run_mirror(self.env(MIRROR_OVERWRITE="true"))
        seen3 = self.decisions_of(over)
        self.check_summary(over, seen3, "overwrite")
        self.compare(exp3, seen3, "overwrite")
        copied3 = {e["key"] for e in over["events"] if e.get("event") == "object.copied"}
        T2 = contents(self.dst, self.tbucket)
        self.check_target(T2, T1, copied3, rel_s, "overwrite")
        # 5. no-op after overwrite
        last = run_mirror(self.env(MIRROR_OVERWRITE="true"))
        seen4 = self.decisions_of(last)
        self.check_summary(last, seen4, "final")
        if any(a.startswith("copy") for a in seen4.values()):
            self.bad("final rerun copies: " + str(sorted(k for k, a in seen4.items()
                                                         if a.startswith("copy"))[:10]))
        return self.problems

    def check_target(self, after: dict[str, bytes], before: dict[str, bytes], copied: set[str],
                     rel_s: dict[str, bytes], label: str) -> None:
        expect = dict(before)
        for k in copied:
            expect[self.tfolder + k] = rel_s[k]
        # documented: a file y written where the target has only the marker y/ replaces it
        if self.dst.kind == "seaweedfs":
            for k in copied:
                full = self.tfolder + k
                if not full.endswith("/") and full + "/" in expect \
                        and not before.get(full + "/") and full + "/" not in after:
                    expect.pop(full + "/")
        missing = sorted(set(expect) - set(after))
        extra = sorted(set(after) - set(expect))
        wrong = sorted(k for k in set(expect) & set(after) if expect[k] != after[k])
        if missing or extra or wrong:
            self.bad(f"{label}: target differs from expectation: missing {missing[:10]} "
                     f"({len(missing)}), extra {extra[:10]} ({len(extra)}), wrong bytes "
                     f"{wrong[:10]} ({len(wrong)})")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m fuzz", description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--combos", nargs="+", default=["sw-sw", "sw-rc", "rc-sw"])
    parser.add_argument("--variants", nargs="+", default=["whole", "folders", "flat"])
    parser.add_argument("--keys", type=int, default=4000)
    args = parser.parse_args()
    failed = []
    try:
        for seed in args.seeds:
            for combo in args.combos:
                for variant in args.variants:
                    problems = Scenario(seed, combo, variant, args.keys).run()
                    print(f"== {'FAIL' if problems else 'ok'} seed={seed} {combo} {variant}: "
                          f"{len(problems)} problems", flush=True)
                    if problems:
                        failed.append((seed, combo, variant))
    finally:
        for started in SERVERS.values():
            started.stop()
    print(f"{len(failed)} scenarios with problems: {failed}" if failed else "no problems")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
