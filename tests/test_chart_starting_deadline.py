"""startingDeadlineSeconds below 10 is refused. The CronJob controller starts a run only while
now < scheduled time + startingDeadlineSeconds, and it wakes shortly after the scheduled time
(Kubernetes documents that a value under 10 s may never schedule): `0`, which many tools read
as "no limit", installed a CronJob that records MissSchedule at every run and never mirrors.
No limit is `null`."""

from __future__ import annotations

from typing import Any

import helm_python as helm
import pytest
from chart_support import cronjob, manifests, validate

GOOD: dict[str, Any] = {
    "endpoints": {"minio": {"accessKey": "a", "secretKey": "b"},
                  "aws": {"url": "https://s3.eu-west-1.amazonaws.com", "accessKey": "c",
                          "secretKey": "d"}},
    "jobs": [{"name": "nightly", "pairs": ["minio/photos:aws/photos"]}]}


@pytest.mark.parametrize("where", ["job", "jobDefaults"])
@pytest.mark.parametrize("seconds", [0, 9])
def test_a_starting_deadline_that_misses_every_run_is_refused(seconds: int, where: str) -> None:
    if where == "job":
        values = {**GOOD, "jobs": [{**GOOD["jobs"][0], "startingDeadlineSeconds": seconds}]}
        path = "/jobs/0/startingDeadlineSeconds"
    else:
        values = {**GOOD, "jobDefaults": {"startingDeadlineSeconds": seconds}}
        path = "/jobDefaults/startingDeadlineSeconds"
    with pytest.raises(helm.HelmError) as refused:
        manifests(values)

    assert f"at '{path}': minimum: got {seconds}, want 10" in str(refused.value)


@pytest.mark.parametrize(("seconds", "rendered"), [(10, 10), (3600, 3600), (None, None)])
def test_usable_starting_deadlines_render(seconds: int | None, rendered: int | None) -> None:
    objects = manifests({**GOOD, "jobs": [{**GOOD["jobs"][0],
                                           "startingDeadlineSeconds": seconds}]})
    validate(objects)

    assert cronjob(objects, "nightly")["spec"].get("startingDeadlineSeconds") == rendered
