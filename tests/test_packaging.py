"""The image's install, without a container engine: the Dockerfile's own commands build the
project's wheel from its build context and install it into a fresh virtual environment; the
entrypoint then runs with the image's environment, and SIGTERM reaches it directly."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import contents, new_bucket, put
from dockerfile_support import ROOT, context_files, entrypoint, stages

from mirror.sandbox import LocalS3

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# Commands of the final stage that change the base image rather than the virtual
# environment; they cannot run on a developer's machine (and need not: the test checks them).
SYSTEM_PYTHON = "/usr/local/bin/python"  # the base image's, named by path in the final stage
SYSTEM_COMMANDS = (f"{SYSTEM_PYTHON} -m pip uninstall ", "groupadd ", "useradd ")


@dataclass
class Image:
    """The installed virtual environment standing in for the image's filesystem."""

    venv: Path
    tmp: Path  # the image's /tmp (the pod's emptyDir)
    wheel: Path
    env: dict[str, str]  # the image's ENV, its paths mapped to the stand-ins

    def entry(self) -> list[str]:
        """The ENTRYPOINT resolved on the image's PATH, as an exec-form start does."""
        [name, *args] = entrypoint(stages()[-1])
        found = shutil.which(name, path=self.env["PATH"])
        assert found, f"{name} is not on the image's PATH {self.env['PATH']}"
        return [found, *args]

    def run(self, *args: str,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.entry(), *args], env={**self.env, **(env or {})},
                              cwd=self.tmp, capture_output=True, text=True, timeout=120,
                              check=False)


def _mapped(text: str, paths: dict[str, Path]) -> str:
    """`text` with the image's absolute paths replaced by their stand-ins, in one pass."""
    pattern = "|".join(re.escape(p) for p in sorted(paths, key=len, reverse=True))
    return re.sub(rf"(?<![\w/.-])({pattern})(?=[/\s:]|$)",
                  lambda m: str(paths[m.group(1)]), text)


def _shell(command: str, paths: dict[str, Path], cwd: Path, env: dict[str, str]) -> None:
    command = _mapped(command, paths)
    python = next(p for p in (SYSTEM_PYTHON, "python") if command.startswith(p + " "))
    command = shlex.quote(sys.executable) + command[len(python):]
    result = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True,
                            text=True, timeout=600, check=False)
    assert result.returncode == 0, f"{command}\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Image:
    """Follow the Dockerfile: context, builder COPY and RUN, final RUN (venv part), ENV."""
    base = tmp_path_factory.mktemp("image")
    paths = {"/src": base / "src", "/wheels": base / "wheels", "/opt/venv": base / "venv",
             "/tmp": base / "tmp"}  # noqa: S108 - the image's /tmp, mapped to a test folder
    for folder in paths.values():
        folder.mkdir()
    context = base / "context"
    for relative in context_files():
        (context / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, context / relative)
    builder, final = stages()
    for sources, _destination in builder.copies():
        for source in sources:
            copy = shutil.copytree if (context / source).is_dir() else shutil.copy2
            copy(context / source, paths["/src"] / source.rstrip("/"))
    build_env = {**os.environ, **builder.env()}
    for command in builder.run_commands():
        _shell(command, paths, paths["/src"], build_env)
    installs = [c for c in final.run_commands() if not c.startswith(SYSTEM_COMMANDS)]
    assert len(installs) == 2, f"new install steps in the Dockerfile? {installs}"
    for command in installs:
        _shell(command, paths, base, dict(os.environ))
    env = {key: _mapped(value, paths).replace("$PATH", os.environ["PATH"])
           for key, value in final.env().items()}
    [wheel] = (base / "wheels").glob("minio_s3_mirror-*.whl")
    return Image(paths["/opt/venv"], paths["/tmp"], wheel, env)  # noqa: S108


def _snapshot(folder: Path) -> dict[str, float]:
    return {str(p): p.stat().st_mtime for p in folder.rglob("*")}


def test_the_wheel_holds_the_package_and_its_data_only(image: Image) -> None:
    """The project's wheel: every module and package data file, no tests, the console script."""
    names = zipfile.ZipFile(image.wheel).namelist()
    data = PROJECT["tool"]["setuptools"]["package-data"]["mirror"]
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))

    assert all(n.startswith(("mirror/", "minio_s3_mirror-")) for n in names)
    assert {"mirror/cli.py", "mirror/__main__.py", "mirror/s3/client.py"} <= set(names)
    for pattern in data:
        assert any(Path(n).match(f"mirror/{pattern}") for n in names), pattern
    scripts = zipfile.ZipFile(image.wheel).read(entry_points).decode()
    assert "minio-s3-mirror = mirror.cli:entrypoint" in scripts


def test_the_entrypoint_runs_from_the_fresh_environment(image: Image) -> None:
    """--version and --help from the installed script, importing the installed package."""
    version = image.run("--version")
    usage = image.run("--help")
    where = subprocess.run([str(image.venv / "bin" / "python"), "-c",
                            "import mirror, sys; print(mirror.__file__); print(sys.prefix)"],
                           env=image.env, cwd=image.tmp, capture_output=True, text=True,
                           check=True).stdout.split()

    assert image.entry()[0] == str(image.venv / "bin" / "minio-s3-mirror")
    assert version.returncode == 0
    assert version.stdout == f"minio-s3-mirror {PROJECT['project']['version']}\n"
    assert usage.returncode == 0
    for text in ("BUCKET_PAIR", "MIRROR_PREFIX", "MIRROR_TIMEZONE", "exit codes"):
        assert text in usage.stdout
    assert where[0].startswith(str(image.venv))
    assert Path(where[1]) == image.venv
    assert not (image.venv / "bin" / "pip").exists()


def _pins() -> dict[str, str]:
    lines = (ROOT / "constraints.txt").read_text().splitlines()
    pins = dict(line.split("==") for line in lines if line and not line.startswith("#"))
    return {re.sub(r"[-_.]+", "-", name).lower(): version for name, version in pins.items()}


def test_the_image_installs_exactly_the_locked_versions(image: Image) -> None:
    """Every package in the image is pinned by constraints.txt, at the version installed:
    a dependency added to pyproject.toml without running scripts/lock-image.sh fails here."""
    listing = subprocess.run(
        [str(image.venv / "bin" / "python"), "-c",
         "import importlib.metadata as m\n"
         "for d in m.distributions(): print(d.metadata['Name'], d.version)"],
        env=image.env, cwd=image.tmp, capture_output=True, text=True, check=True).stdout
    installed = {re.sub(r"[-_.]+", "-", name).lower(): version
                 for name, version in (line.split() for line in listing.splitlines())}
    installed.pop("minio-s3-mirror")

    assert installed == _pins()
    for requirement in PROJECT["project"]["dependencies"]:
        name = re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0]
        assert re.sub(r"[-_.]+", "-", name).lower() in installed, requirement


def test_a_configuration_error_exits_2_and_writes_nothing(image: Image) -> None:
    """No pairs: exit 2 with one readable line; no bytecode or file appears in the image."""
    before = _snapshot(image.venv)

    result = image.run()

    assert result.returncode == 2
    (line,) = result.stderr.splitlines()  # not a terminal: a JSON event, as the logs are
    event = json.loads(line)
    assert (event["event"], event["level"]) == ("config.invalid", "error")
    assert event["error"].startswith("configuration error: no bucket pair")
    assert "Traceback" not in result.stderr
    assert _snapshot(image.venv) == before


@pytest.mark.servers
def test_sigterm_reaches_the_installed_worker_which_stops_cleanly(
        image: Image, minio_side: LocalS3, aws_side: LocalS3) -> None:
    """Exec form: PID of the entrypoint is Python itself; SIGTERM ends the run with 143, and the
    next run completes the mirror."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    objects = {f"part/{i:03d}.bin": os.urandom(512 * 1024) for i in range(80)}
    put(minio_side, src, objects)
    env = {**image.env, **minio_side.env("minio"), **aws_side.env("aws"),
           "BUCKET_PAIR": f"minio/{src}:aws/{dst}", "MIRROR_MAX_WORKERS": "1",
           "MIRROR_LOG_FORMAT": "json"}

    process = subprocess.Popen(image.entry(), env=env, cwd=image.tmp, stderr=subprocess.PIPE,
                               text=True)
    assert process.stderr is not None
    executable = Path(f"/proc/{process.pid}/exe").resolve().name
    events: list[dict[str, Any]] = []
    for line in process.stderr:
        events.append(json.loads(line))
        if events[-1]["event"] == "object.copied":
            process.send_signal(signal.SIGTERM)
            break
    events += [json.loads(line) for line in process.stderr]
    code = process.wait(timeout=60)

    assert executable.startswith("python"), executable
    assert code == 143
    done = next(e for e in events if e["event"] == "run.done")
    assert done["status"] == "interrupted"
    copied = contents(aws_side, dst)
    assert 0 < len(copied) < len(objects)
    assert all(objects[key] == body for key, body in copied.items())

    rerun = image.run(env=env)

    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert contents(aws_side, dst) == objects
