"""`jobDefaults.<key>: null` (or `--set jobDefaults.<key>=null`) removes the default in Helm's
merge. For a key with no null meaning of its own the chart then rendered "<nil>" into the
worker's environment (MIRROR_DRY_RUN="<nil>": exit 2 at every run), 0 into the Job
(backoffLimit, terminationGracePeriodSeconds: SIGKILL at once), or dropped it (concurrencyPolicy:
Allow, not Forbid). Such a job is refused at render time, naming the key; keys whose null is
documented (activeDeadlineSeconds, ...) keep working."""

from __future__ import annotations

from typing import Any

import helm_python as helm
import pytest
from chart_support import container_env, manifests, merged, of_kind

GOOD: dict[str, Any] = {
    "endpoints": {"minio": {"accessKey": "a", "secretKey": "b"},
                  "aws": {"url": "https://s3.eu-west-1.amazonaws.com", "accessKey": "c",
                          "secretKey": "d"}},
    "jobs": [{"name": "nightly", "pairs": ["minio/photos:aws/photos"]}]}
NOT_NULLABLE = ["schedule", "timeZone", "dryRun", "overwrite", "skipErrors", "maxWorkers",
                "largeTransfers", "partSize", "debug", "suspend", "concurrencyPolicy",
                "successfulJobsHistoryLimit", "failedJobsHistoryLimit", "backoffLimit",
                "terminationGracePeriodSeconds"]


@pytest.mark.parametrize("key", NOT_NULLABLE)
def test_a_default_removed_with_null_and_not_set_by_the_job_is_refused(key: str) -> None:
    with pytest.raises(helm.HelmError) as refused:
        manifests(merged(GOOD, {"jobDefaults": {key: None}}))

    assert f"jobs[0] (nightly): {key} is not set" in str(refused.value)


def test_a_job_that_sets_the_key_itself_needs_no_default() -> None:
    values = merged(GOOD, {"jobDefaults": {"dryRun": None, "schedule": None}})
    values["jobs"] = [{**GOOD["jobs"][0], "dryRun": True, "schedule": "0 4 * * *"}]
    objects = manifests(values)
    (cron,) = of_kind(objects, "CronJob")

    assert cron["spec"]["schedule"] == "0 4 * * *"
    assert container_env(cron, objects)["MIRROR_DRY_RUN"] == "true"


@pytest.mark.parametrize("key", ["activeDeadlineSeconds", "startingDeadlineSeconds",
                                 "ttlSecondsAfterFinished", "prefix", "exclude", "resources"])
def test_keys_whose_null_means_none_still_render(key: str) -> None:
    (cron,) = of_kind(manifests(merged(GOOD, {"jobDefaults": {key: None}})), "CronJob")

    assert cron["spec"]["schedule"] == "0 2 * * *"
