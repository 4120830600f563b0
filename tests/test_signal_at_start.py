"""A SIGTERM that lands while the command is still loading its modules (a pod deleted or a
node drained right after the run started): kept, not fatal. Without a handler by then the
process dies of the signal (exit -15, no summary), or, as a container's PID 1, the kernel
drops it and the run goes on until the SIGKILL at the end of the grace period."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from conftest import ROOT, base_env, contents, new_bucket, put, run_mirror

from mirror.sandbox import LocalS3

# Runs the command as `python -m mirror` does, with an import hook that sends the process
# SIGTERM as the first of the package's modules past the command's own starts to load:
# the signal arrives during start-up, at the same point on every machine.
_SIGNALLED_WHILE_LOADING = textwrap.dedent("""
    import os, runpy, signal, sys

    class SignalOnLoad:
        sent = False

        def find_spec(self, name, path=None, target=None):
            own = ("mirror", "mirror.__main__", "mirror.cli")
            if not self.sent and name.startswith("mirror.") and name not in own:
                self.sent = True
                os.kill(os.getpid(), signal.SIGTERM)
            return None

    sys.meta_path.insert(0, SignalOnLoad())
    sys.argv = ["mirror"]
    runpy.run_module("mirror", run_name="__main__", alter_sys=True)
""")


def test_sigterm_while_the_command_loads_exits_143_with_a_summary(minio_side: LocalS3,
                                                                  aws_side: LocalS3) -> None:
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    objects = {f"k{i:03d}": os.urandom(1024) for i in range(20)}
    put(minio_side, src, objects)
    env = {**base_env(minio=minio_side, aws=aws_side), "BUCKET_PAIR": f"minio/{src}:aws/{dst}"}

    started = subprocess.run([sys.executable, "-c", _SIGNALLED_WHILE_LOADING], env=env,
                             cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)

    assert started.returncode == 143, started.stderr[-2000:]
    events = [json.loads(line) for line in started.stderr.splitlines() if line.startswith("{")]
    done = [e for e in events if e["event"] == "run.done"]
    assert done
    assert done[-1]["status"] == "interrupted"
    assert done[-1]["copied"]["objects"] == 0
    assert contents(aws_side, dst) == {}

    rerun = run_mirror(env)

    assert rerun.code == 0
    assert contents(aws_side, dst) == objects
