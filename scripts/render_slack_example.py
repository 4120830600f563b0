"""Render the README's picture of the Slack summary from the blocks the code really sends.

    python scripts/render_slack_example.py      # needs chromium-headless-shell (Debian)

1. builds an example run (two pairs, nightly prefix, integrity failures, a kept difference),
2. asks `mirror.report.slack.message` for its Block Kit message and writes it to
   docs/slack-example.json (a test checks that this file is what the code produces now),
3. draws those blocks as HTML the way Slack lays them out on a phone, and takes a
   screenshot with headless Chromium: docs/slack-example.png.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mirror.report import slack  # noqa: E402 - the repository root is put on the path above
from mirror.report.pricing import TABLES  # noqa: E402
from mirror.summary import (  # noqa: E402
    Count,
    Difference,
    Failure,
    PairSummary,
    RunSummary,
    Status,
)

DOCS = ROOT / "docs"
WIDTH = 420  # CSS pixels: a phone


def _damaged(read: str, etag: str) -> str:
    """The error of an object whose bytes do not match its MD5 ETag (mirror/transfer.py,
    a small object: read whole, checked, and not written). A 403 would not be here: it stops
    the whole pair (status failed, the reason under "Stopped:"), as mirror/engine.py does."""
    return (f"the bytes read from the source have MD5 {read} but its ETag is {etag}: the "
            "source object is damaged, or its store's ETags are not MD5s (SSE-KMS, SSE-C: set "
            "MINIO_ETAG_IS_MD5=false); nothing was written")


def example_run() -> RunSummary:
    """A night of two pairs: photos to S3 went fine; to R2, three dataset shards on MinIO
    no longer matched their ETags, so they were not copied (partial)."""
    photos = PairSummary(
        pair="minio/photos:aws/photos-backup", source="minio/photos",
        target="aws/photos-backup", dry_run=False, prefixes=["2026/01/21/"],
        status=Status.SUCCESS, seconds=184.2,
        listed_source=Count(18_412, 41_873_211_392), listed_target=Count(16_020, 36_112_004_096),
        decisions={"copy-new": Count(2_392, 5_761_207_296), "unchanged": Count(16_015, 0),
                   "excluded": Count(5, 1_204)},
        copied_new=Count(2_392, 5_761_207_296),
        requests={"source": {"GET": 2_392, "LIST": 19},
                  "target": {"LIST": 17, "MPU_COMPLETE": 12, "MPU_CREATE": 12,
                             "MPU_PART": 96, "PUT": 2_380}})
    datasets = PairSummary(
        pair="minio/datasets:r2/ml-datasets", source="minio/datasets",
        target="r2/ml-datasets", dry_run=False, prefixes=["2026/01/21/"],
        status=Status.PARTIAL, seconds=95.7,
        listed_source=Count(3_120, 9_663_676_416), listed_target=Count(3_001, 9_126_805_504),
        decisions={"copy-new": Count(117, 536_870_912), "unchanged": Count(2_999, 0),
                   "differs-kept": Count(2, 4_096), "excluded": Count(2, 300)},
        copied_new=Count(114, 528_482_304), failed=Count(3, 8_388_608),
        failures=[Failure(f"2026/01/21/shard-{n}.parquet", _damaged(read, etag))
                  for n, read, etag in (
                      ("0042", "91d75cb0c461ec89655a05ba4a77ef55",
                       "0b1cc2735b5a3f7cfd8e9fa3cdb73b89"),
                      ("0043", "6b6804df44c5d2aeb0de7954a953f56b",
                       "e44df200fb815ecc10b6228db3f58fb3"),
                      ("0044", "1fbd478715564eff6544693920c763c3",
                       "ab79aafd3efcbfe3743b32d1a3aea89c"))],
        differs=[Difference(f"labels/2026/01/21/{name}.json",
                            "source modified after the target copy was written")
                 for name in ("train", "validation")],
        requests={"source": {"GET": 117, "LIST": 4},
                  "target": {"LIST": 4, "PUT": 114}})
    return RunSummary(service="ml-platform", dry_run=False,
                      started_at="2026-01-22T02:00:03+00:00", pairs=[photos, datasets],
                      seconds=186.0, prices={"minio": TABLES["none"],
                                             "aws": TABLES["aws-s3-standard"],
                                             "r2": TABLES["r2"]})


# -- Block Kit to HTML -------------------------------------------------------------------


def _date(match: re.Match[str]) -> str:
    moment = datetime.fromtimestamp(int(match.group(1)), UTC)
    return moment.strftime("%b %d at %H:%M")


def mrkdwn(text: str) -> str:
    """The subset of Slack mrkdwn the summary uses, as HTML."""
    text = re.sub(r"<!date\^(\d+)\^[^|]*\|[^>]*>", _date, text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    out = html.escape(text)
    out = re.sub(r"`([^`]*)`", r"<code>\1</code>", out)
    out = re.sub(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])", r"<b>\1</b>", out)
    out = re.sub(r"(?<![\w_])_([^_\n]+)_(?![\w_])", r"<i>\1</i>", out)
    return out.replace("\n", "<br>")


def block_html(block: dict[str, Any]) -> str:
    kind = block["type"]
    if kind == "header":
        return f'<div class="header">{html.escape(block["text"]["text"])}</div>'
    if kind == "divider":
        return "<hr>"
    if kind == "context":
        items = " ".join(f"<span>{mrkdwn(e['text'])}</span>" for e in block["elements"])
        return f'<div class="context">{items}</div>'
    fields = "".join(f"<div>{mrkdwn(f['text'])}</div>" for f in block.get("fields", []))
    return (f'<div class="section"><div>{mrkdwn(block["text"]["text"])}</div>'
            + (f'<div class="fields">{fields}</div>' if fields else "") + "</div>")


STYLE = """
body { margin: 0; background: #fff; font: 15px/1.45 'DejaVu Sans', sans-serif; color: #1d1c1d; }
.message { display: flex; gap: 8px; padding: 12px 14px; width: %(width)dpx;
           box-sizing: border-box; }
.avatar { flex: none; width: 36px; height: 36px; border-radius: 6px; background: #2eb67d;
          color: #fff; font-weight: bold; display: flex; align-items: center;
          justify-content: center; }
.body { min-width: 0; flex: 1; }
.who { font-weight: bold; } .who small { font-weight: normal; color: #616061; }
.tag { background: #e8e8e8; color: #616061; font-size: 10px; padding: 1px 3px; border-radius: 2px; }
.header { font-size: 18px; font-weight: bold; margin: 4px 0 6px; }
.section { margin: 6px 0; overflow-wrap: anywhere; }
.fields { display: grid; grid-template-columns: 1fr 1fr; gap: 6px 12px; margin-top: 8px; }
.context { color: #616061; font-size: 12.5px; margin: 4px 0; overflow-wrap: anywhere; }
.context span { margin-right: 8px; }
code { font: 12px 'DejaVu Sans Mono', monospace; color: #e01e5a; background: #f6f6f6;
       border: 1px solid #e0e0e0; border-radius: 3px; padding: 0 2px; }
hr { border: none; border-top: 1px solid #ddd; margin: 10px 0; }
"""


def page(message: slack.Message) -> str:
    blocks = "\n".join(block_html(b) for b in message.blocks)
    return (f"<!doctype html><meta charset='utf-8'><style>{STYLE % {'width': WIDTH}}</style>"
            "<div class='message'><div class='avatar'>M</div><div class='body'>"
            "<div class='who'>minio-s3-mirror <span class='tag'>APP</span> <small>02:03</small>"
            f"</div>{blocks}</div></div>")


def screenshot(page_html: str, out: Path) -> None:
    browser = shutil.which("chromium-headless-shell") or shutil.which("chromium")
    if browser is None:
        sys.exit("needs headless Chromium: apt-get install chromium-headless-shell")
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / "slack.html"
        measure = page_html + ("<script>document.title = "
                               "document.querySelector('.message').scrollHeight</script>")
        source.write_text(measure, encoding="utf-8")
        common = [browser, "--no-sandbox", "--hide-scrollbars", "--force-device-scale-factor=2",
                  f"--user-data-dir={scratch}/profile"]
        dom = subprocess.run([*common, "--dump-dom", source.as_uri()], check=True,
                             capture_output=True, text=True).stdout
        found = re.search(r"<title>(\d+)</title>", dom)
        height = int(found.group(1)) if found else 1600
        source.write_text(page_html, encoding="utf-8")
        subprocess.run([*common, f"--window-size={WIDTH},{height}",
                        f"--screenshot={out}", source.as_uri()], check=True,
                       capture_output=True)


def main() -> None:
    message = slack.message(example_run())
    DOCS.mkdir(exist_ok=True)
    (DOCS / "slack-example.json").write_text(
        json.dumps({"text": message.text, "blocks": message.blocks}, indent=2,
                   ensure_ascii=False) + "\n", encoding="utf-8")
    screenshot(page(message), DOCS / "slack-example.png")
    print(f"wrote {DOCS / 'slack-example.json'} and {DOCS / 'slack-example.png'}")


if __name__ == "__main__":
    main()
