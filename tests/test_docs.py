"""The README's Slack picture and variable table say what the code does today."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

from conftest import ROOT

from mirror.report import slack
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


def test_every_variable_is_in_the_readme_table() -> None:
    """Each variable `--help` lists has a row in the README's configuration table."""
    readme = Path(ROOT / "README.md").read_text("utf-8")
    rows = [line for line in readme.splitlines() if line.startswith("| `")]
    missing = [v.name for v in VARIABLES if not any(f"`{v.name}`" in row for row in rows)]
    assert missing == []
