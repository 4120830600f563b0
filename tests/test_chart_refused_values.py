"""Values that rendered a release Kubernetes or the worker then refused at every run are
refused by the chart itself, naming the value: a pair with a ';' (BUCKET_PAIRS' separator),
a region the worker rejects, a commonLabels key the chart sets itself (two keys of one name
in one manifest); and `tmpVolume.sizeLimit: null` means no limit instead of `sizeLimit: null`."""

from __future__ import annotations

from typing import Any

import helm_python as helm
import pytest
from chart_support import container_env, manifests, merged, of_kind, pod_spec, validate

from mirror.settings import ConfigError, load_settings

GOOD: dict[str, Any] = {
    "endpoints": {"minio": {"accessKey": "a", "secretKey": "b"},
                  "aws": {"url": "https://s3.eu-west-1.amazonaws.com", "accessKey": "c",
                          "secretKey": "d"}},
    "jobs": [{"name": "nightly", "pairs": ["minio/photos:aws/photos"]}]}


def job(**settings: Any) -> dict[str, Any]:
    return {**GOOD, "jobs": [{**GOOD["jobs"][0], **settings}]}


@pytest.mark.parametrize(("values", "message"), [
    (job(pairs=["minio/photos/a;b:aws/photos"]),
     'jobs[0] (nightly): pair "minio/photos/a;b:aws/photos" has a \';\' or a line break'),
    (job(pairs=["minio/photos\nminio/x:aws/photos"]), "has a ';' or a line break"),
    (merged(GOOD, {"endpoints": {"aws": {"region": "eu west 1"}}}),
     "at '/endpoints/aws/region'"),
    ({**GOOD, "commonLabels": {"app.kubernetes.io/component": "backup"}},
     "invalid propertyName 'app.kubernetes.io/component'"),
    ({**GOOD, "commonLabels": {"app.kubernetes.io/instance": "other"}},
     "invalid propertyName 'app.kubernetes.io/instance'"),
], ids=["semicolon-in-folder", "line-break", "region", "component-label", "instance-label"])
def test_refused_at_render_time(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm.HelmError) as refused:
        manifests(values)

    assert message in str(refused.value)


def test_what_the_worker_would_have_done_with_them() -> None:
    """The same values, as the worker would have read them: exit 2 at each run."""
    (cron,) = of_kind(manifests(GOOD), "CronJob")
    env = container_env(cron, manifests(GOOD))
    for extra in ({"BUCKET_PAIRS": "minio/photos/a;b:aws/photos"}, {"AWS_REGION": "eu west 1"}):
        with pytest.raises(ConfigError):
            load_settings({**env, **extra})


def test_good_values_still_render() -> None:
    values = merged(job(pairs=["minio/photos/a,b:aws/photos"]),
                    {"endpoints": {"aws": {"region": "eu-west-1"}},
                     "commonLabels": {"team": "platform"}})
    objects = manifests(values)
    validate(objects)
    (cron,) = of_kind(objects, "CronJob")

    assert cron["metadata"]["labels"]["team"] == "platform"


@pytest.mark.parametrize(("tmp", "empty_dir"), [
    ({"sizeLimit": None}, {}),
    ({"sizeLimit": None, "medium": "Memory"}, {"medium": "Memory"}),
    ({}, {"sizeLimit": "64Mi"}),
    ({"medium": "Memory", "sizeLimit": "32Mi"}, {"medium": "Memory", "sizeLimit": "32Mi"}),
])
def test_a_tmp_volume_without_a_size_limit_is_valid(tmp: dict[str, Any],
                                                    empty_dir: dict[str, Any]) -> None:
    objects = manifests({**GOOD, "tmpVolume": tmp})
    validate(objects)
    (cron,) = of_kind(objects, "CronJob")

    assert {"name": "tmp", "emptyDir": empty_dir} in pod_spec(cron)["volumes"]
