"""The README's Slack picture and variable table say what the code does today."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType

from chart_support import CHART
from conftest import ROOT, base_env, new_bucket, run_mirror

from mirror import __version__
from mirror.report import slack
from mirror.sandbox import LocalS3
from mirror.settings import VARIABLES


def _generator() -> ModuleType:
    path = ROOT / "scripts" / "render_slack_example.py"
    spec = importlib.util.spec_from_file_location("render_slack_example", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_slack_picture_is_rendered_from_the_blocks_the_code_sends() -> None:
    """docs/slack-example.json is what `slack.message` builds now; rerun the script if not."""
    message = slack.message(_generator().example_run())
    committed = json.loads((ROOT / "docs" / "slack-example.json").read_text("utf-8"))

    assert committed == {"text": message.text, "blocks": message.blocks}, (
        "the Slack message changed: run python scripts/render_slack_example.py")
    assert (ROOT / "docs" / "slack-example.png").stat().st_size > 10_000


def test_the_pictures_failed_objects_failed_the_way_a_real_run_fails_them(
        minio_side: LocalS3, aws_side: LocalS3) -> None:
    """Each failure the example shows is the error a real run logs for a source object whose
    bytes do not match its ETag (only the MD5s differ). A 403 is never an object's failure
    next to copied ones: it stops the whole pair."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    minio_side.boto3().put_object(Bucket=src, Key="a-damaged/", Body=b"these bytes are lost")

    run = run_mirror({**base_env(minio=minio_side, aws=aws_side),
                      "BUCKET_PAIR": f"minio/{src}:aws/{dst}"})

    md5 = re.compile(r"\b[0-9a-f]{32}\b")
    [real] = [md5.sub("<md5>", e["error"]) for e in run.named("object.failed")]
    example = _generator().example_run()
    shown = {md5.sub("<md5>", f.error) for pair in example.pairs for f in pair.failures}
    assert shown == {real}
    assert all(pair.error is None for pair in example.pairs if pair.failures)


def test_every_variable_is_in_the_readme_table() -> None:
    """Each variable `--help` lists has a row in the README's configuration table."""
    readme = Path(ROOT / "README.md").read_text("utf-8")
    rows = [line for line in readme.splitlines() if line.startswith("| `")]
    missing = [v.name for v in VARIABLES if not any(f"`{v.name}`" in row for row in rows)]
    assert missing == []


def test_the_image_tag_the_docs_push_is_the_one_the_chart_pulls() -> None:
    """The chart pulls `<repository>:<appVersion>`: an image pushed under another tag (the
    docs' stale version, or `:latest`) leaves every run in ImagePullBackOff."""
    app_version = re.search(r'^appVersion: "?([^"\n]+)"?$',
                            (CHART / "Chart.yaml").read_text("utf-8"), flags=re.M)
    docs = "\n".join(path.read_text("utf-8") for path in (ROOT / "README.md", CHART / "README.md"))
    tags = set(re.findall(r"minio-s3-mirror:(\d+\.\d+\.\d+)", docs))
    pushed_as = set(re.findall(r"pushed as :(\d+\.\d+\.\d+)", docs))

    assert app_version
    assert app_version.group(1) == __version__
    assert tags
    assert tags | pushed_as == {__version__}
