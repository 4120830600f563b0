"""A job's extraEnv names each variable once: a container with two entries of one name keeps
the last, and a later `helm upgrade` that removes one of them removes both (the strategic
merge patch keys env by name), so the chart refuses the duplicate at render time."""

from __future__ import annotations

from typing import Any

import helm_python as helm
import pytest
from chart_support import container, manifests, of_kind

GOOD: dict[str, Any] = {
    "endpoints": {"minio": {"accessKey": "a", "secretKey": "b"},
                  "aws": {"url": "https://s3.eu-west-1.amazonaws.com", "accessKey": "c",
                          "secretKey": "d"}},
    "jobs": [{"name": "nightly", "pairs": ["minio/photos:aws/photos"]}]}


def with_env(*entries: dict[str, Any]) -> dict[str, Any]:
    return {**GOOD, "jobs": [{**GOOD["jobs"][0], "extraEnv": list(entries)}]}


def test_a_variable_given_twice_in_extra_env_is_refused() -> None:
    values = with_env({"name": "HTTPS_PROXY", "value": "http://a:3128"},
                      {"name": "NO_PROXY", "value": ".svc"},
                      {"name": "HTTPS_PROXY", "valueFrom": {"secretKeyRef": {"name": "p",
                                                                             "key": "url"}}})
    with pytest.raises(helm.HelmError) as refused:
        manifests(values)

    assert "jobs[0] (nightly): extraEnv sets HTTPS_PROXY twice" in str(refused.value)


def test_every_rendered_container_names_each_variable_once() -> None:
    values = with_env({"name": "HTTPS_PROXY", "value": "http://a:3128"},
                      {"name": "NO_PROXY", "value": ".svc"})
    (cron,) = of_kind(manifests(values), "CronJob")
    names = [e["name"] for e in container(cron)["env"]]

    assert len(names) == len(set(names))
    assert names[-2:] == ["HTTPS_PROXY", "NO_PROXY"]
