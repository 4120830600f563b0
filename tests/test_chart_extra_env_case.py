"""extraEnv names are compared with the chart's own variables in upper case, as the worker
compares them: `mirror_dry_run: "true"` rendered beside the chart's MIRROR_DRY_RUN, and the
worker refused it (a MIRROR_ name in the wrong case) and exited 2 at every run; a lower-case
alias variable such as minio_url was silently ignored beside the chart's MINIO_URL."""

from __future__ import annotations

from typing import Any

import helm_python as helm
import pytest
from chart_support import container_env, cronjob, manifests

from mirror.settings import ConfigError, load_settings

GOOD: dict[str, Any] = {
    "endpoints": {"minio": {"accessKey": "a", "secretKey": "b"},
                  "aws": {"url": "https://s3.eu-west-1.amazonaws.com", "accessKey": "c",
                          "secretKey": "d"}},
    "jobs": [{"name": "nightly", "pairs": ["minio/photos:aws/photos"]}]}


def with_env(name: str, value: str) -> dict[str, Any]:
    return {**GOOD, "jobs": [{**GOOD["jobs"][0], "extraEnv": [{"name": name, "value": value}]}]}


@pytest.mark.parametrize(("name", "message"), [
    ("mirror_dry_run", "extraEnv sets mirror_dry_run, which the chart sets from its values as "
                       "MIRROR_DRY_RUN"),
    ("Minio_Url", "extraEnv sets Minio_Url, which the chart sets from its values as MINIO_URL"),
    ("mirror_log_format", "extraEnv sets MIRROR_LOG_FORMAT, which the chart fixes to json"),
    ("mirror_copy_tags", "extraEnv sets mirror_copy_tags, which the worker refuses"),
])
def test_a_variable_in_the_wrong_case_is_refused(name: str, message: str) -> None:
    with pytest.raises(helm.HelmError) as refused:
        manifests(with_env(name, "true"))

    assert "jobs[0] (nightly)" in str(refused.value)
    assert message in " ".join(str(refused.value).split())


def test_what_the_worker_would_have_done() -> None:
    """The same variable in the rendered environment: exit 2 at every run."""
    objects = manifests(GOOD)
    env = container_env(cronjob(objects, "nightly"), objects)
    with pytest.raises(ConfigError, match="mirror_dry_run"):
        load_settings({**env, "mirror_dry_run": "true"})


@pytest.mark.parametrize("name", ["https_proxy", "no_proxy", "MIRROR_COPY_TAGS", "TZ"])
def test_other_variables_render_as_written(name: str) -> None:
    objects = manifests(with_env(name, "x"))

    assert container_env(cronjob(objects, "nightly"), objects)[name] == "x"
