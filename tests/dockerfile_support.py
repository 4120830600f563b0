"""The project's Dockerfile and .dockerignore read as data, so that tests can check them and
follow the same steps on a machine without a container engine.

Helpers only; the tests are in tests/test_docker*.py and tests/test_packaging.py.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"


@dataclass
class Stage:
    """One FROM ... block: its base image, its name, and its instructions in order."""

    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]

    def env(self) -> dict[str, str]:
        """ENV key=value pairs, later ones winning, `$NAME` left as written."""
        found: dict[str, str] = {}
        for args in self.all("ENV"):
            for word in shlex.split(args):
                key, _, value = word.partition("=")
                found[key] = value
        return found

    def run_commands(self) -> list[str]:
        """Each RUN's shell commands (split on `&&`), its --mount options left out."""
        commands = []
        for args in self.all("RUN"):
            shell = re.sub(r"^(--\S+\s+)+", "", args)
            commands += [c.strip() for c in shell.split("&&")]
        return commands

    def copies(self) -> list[tuple[list[str], str]]:
        """COPY sources and destination (stages without --from copy from the build context)."""
        found = []
        for args in self.all("COPY"):
            words = [w for w in shlex.split(args) if not w.startswith("--")]
            found.append((words[:-1], words[-1]))
        return found


def _logical_lines(text: str) -> list[str]:
    lines, current = [], ""
    for raw in text.splitlines():
        if raw.lstrip().startswith("#") and not current:
            continue
        if raw.lstrip().startswith("#"):  # a comment inside a continued instruction
            continue
        if raw.rstrip().endswith("\\"):
            current += raw.rstrip()[:-1] + " "
            continue
        current += raw
        if current.strip():
            lines.append(" ".join(current.split()))
        current = ""
    return lines


def stages(path: Path = DOCKERFILE) -> list[Stage]:
    """The build stages, with global ARG defaults substituted into FROM lines."""
    args: dict[str, str] = {}
    found: list[Stage] = []
    for line in _logical_lines(path.read_text()):
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "ARG" and not found:
            name, _, default = rest.partition("=")
            args[name] = default
        elif keyword == "FROM":
            words = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), ""), rest).split()
            words = [w for w in words if not w.startswith("--")]
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            found.append(Stage(words[0], name))
        else:
            found[-1].instructions.append((keyword, rest))
    return found


def entrypoint(stage: Stage) -> list[str]:
    """The ENTRYPOINT in exec form (a JSON array); shell form is an error."""
    [args] = stage.all("ENTRYPOINT")
    value = json.loads(args)
    assert isinstance(value, list), f"ENTRYPOINT must be exec form, got {args}"
    return [str(v) for v in value]


def _pattern(text: str) -> re.Pattern[str]:
    """A .dockerignore pattern (Go filepath.Match plus `**`) as a regular expression."""
    out, i = "", 0
    while i < len(text):
        if text.startswith("**", i):
            out += ".*"
            i += 2
            if text.startswith("/", i):
                out, i = out + "/?", i + 1
        elif text[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif text[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(text[i]), i + 1
    return re.compile(f"^{out}$")


def context_files(root: Path = ROOT) -> list[Path]:
    """The files `docker build` would send: the last .dockerignore pattern matching a path or
    one of its parent folders decides; `!` patterns take a path back in."""
    rules = []
    for raw in DOCKERIGNORE.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            negated = line.startswith("!")
            text = line.lstrip("!").strip("/")
            rules.append((negated, text, _pattern(text)))

    def excluded(relative: str) -> bool:
        parts = relative.split("/")
        prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        verdict = False
        for negated, _, pattern in rules:
            if any(pattern.match(p) for p in prefixes):
                verdict = not negated
        return verdict

    def reincluded_below(relative: str) -> bool:
        return any(negated and text.startswith(relative + "/") for negated, text, _ in rules)

    included = []
    for folder, dirs, files in os.walk(root):
        base = Path(folder).relative_to(root)
        dirs[:] = sorted(d for d in dirs if not excluded((base / d).as_posix())
                         or reincluded_below((base / d).as_posix()))
        included += [base / f for f in sorted(files) if not excluded((base / f).as_posix())]
    return included
