"""The Helm chart renders, lints and validates against the Kubernetes schemas, for the default
values and for realistic releases, and maps its values onto the worker's contract."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from chart_support import (
    CHART,
    NAMESPACE,
    RELEASE,
    ROOT,
    container,
    container_env,
    cronjob,
    example,
    lint,
    manifests,
    merged,
    notes,
    of_kind,
    pod_spec,
    secrets,
    validate,
)

import mirror
from mirror.providers import PROVIDERS
from mirror.report.pricing import TABLES
from mirror.settings import VARIABLES

KEYS = {"endpoints": {"minio": {"accessKey": "minio-access", "secretKey": "minio-secret-value"},
                      "aws": {"accessKey": "aws-access", "secretKey": "aws-secret-value"}}}
WEEKLY_AND_NIGHTLY = merged(example("weekly-and-nightly.yaml"), KEYS)
IRSA_R2_SLACK = example("irsa-r2-slack.yaml")
EVERYTHING: dict[str, Any] = {
    "fullnameOverride": "mirror",
    "commonLabels": {"team": "platform"},
    "image": {"repository": "registry.example.com/ops/minio-s3-mirror",
              "digest": "sha256:" + "ab" * 32, "pullPolicy": "Always"},
    "imagePullSecrets": [{"name": "regcred"}],
    "endpoints": {"minio": {"url": "https://minio.internal:9000", "accessKey": "a",
                            "secretKey": "b", "caFile": "/etc/mirror-ca/ca.pem",
                            "etagIsMd5": False},
                  "aws": None,
                  "vultr": {"url": "https://ewr1.vultrobjects.com", "provider": "vultr",
                            "region": "ewr1", "accessKey": "c", "secretKey": "d",
                            "pricing": "unknown", "storageClass": "STANDARD"}},
    "serviceAccount": {"create": False, "name": "mirror-runner"},
    "slack": {"channelId": "C42", "botToken": "xoxb-not-a-real-token",
              "apiUrl": "https://slack-proxy.internal/api/"},
    "metrics": {"pushgatewayUrl": "http://pushgateway.monitoring:9091"},
    "tmpVolume": {"medium": "Memory", "sizeLimit": "32Mi"},
    "extraVolumes": [{"name": "ca", "configMap": {"name": "internal-ca"}}],
    "extraVolumeMounts": [{"name": "ca", "mountPath": "/etc/mirror-ca", "readOnly": True}],
    "jobDefaults": {"pairs": ["minio/models/weights:vultr/models-backup/weights"],
                    "nodeSelector": {"kubernetes.io/arch": "amd64"},
                    "tolerations": [{"key": "batch", "operator": "Exists",
                                     "effect": "NoSchedule"}],
                    "affinity": {"nodeAffinity": {
                        "preferredDuringSchedulingIgnoredDuringExecution": [
                            {"weight": 1, "preference": {"matchExpressions": [
                                {"key": "pool", "operator": "In", "values": ["batch"]}]}}]}},
                    "podAnnotations": {"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"},
                    "podLabels": {"cost-center": "backup"}},
    "jobs": [{"name": "hourly", "schedule": "@hourly", "concurrencyPolicy": "Replace",
              "startingDeadlineSeconds": None, "successfulJobsHistoryLimit": 1,
              "failedJobsHistoryLimit": 5, "backoffLimit": 6, "activeDeadlineSeconds": 3300,
              "ttlSecondsAfterFinished": 1000000, "terminationGracePeriodSeconds": 120,
              "prefix": ["{today:%Y/%m/%d}/", "{now-1h:%Y/%m/%d}/"], "exclude": ["*.part"],
              "overwrite": True, "skipErrors": False, "maxWorkers": 24, "largeTransfers": 8,
              "partSize": "64MiB", "bandwidthLimit": "20MiB/s",
              "debug": True, "service": "models", "suspend": True,
              "resources": {"requests": {"cpu": "2", "memory": "1Gi"},
                            "limits": {"cpu": 4, "memory": "2Gi"}},
              "extraEnv": [{"name": "AWS_EC2_METADATA_DISABLED", "value": "true"},
                           {"name": "HTTPS_PROXY", "valueFrom": {"configMapKeyRef": {
                               "name": "proxy", "key": "url"}}}]}],
}
VALUE_SETS = {"defaults": None, "weekly-and-nightly": WEEKLY_AND_NIGHTLY,
              "irsa-r2-slack": IRSA_R2_SLACK, "everything": EVERYTHING}


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_every_manifest_is_valid_kubernetes_and_the_chart_lints_clean(
        values: dict[str, Any] | None) -> None:
    """Each value set renders objects the Kubernetes API schemas accept, and lints clean."""
    objects = manifests(values)

    validate(objects)
    assert lint(values) == []
    assert all(o["metadata"].get("namespace") == NAMESPACE for o in objects)


def test_the_default_values_make_only_a_service_account_and_say_what_to_add() -> None:
    """No job is configured by default: nothing runs, and NOTES.txt points at the example."""
    objects = manifests()

    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("ServiceAccount", f"{RELEASE}-minio-s3-mirror")]
    assert "No CronJob was created" in notes()
    assert "examples/weekly-and-nightly.yaml" in notes()


def test_weekly_full_and_nightly_prefix_jobs_share_connections_and_pairs() -> None:
    """The original strategy: two CronJobs, one schedule each, the nightly one date-scoped."""
    objects = manifests(WEEKLY_AND_NIGHTLY)
    full, nightly = cronjob(objects, "full"), cronjob(objects, "nightly")
    full_env, nightly_env = container_env(full, objects), container_env(nightly, objects)

    assert len(of_kind(objects, "CronJob")) == 2
    assert (full["spec"]["schedule"], nightly["spec"]["schedule"]) == (
        "0 3 * * 0", "0 2 * * 1-6")
    assert full["spec"]["timeZone"] == nightly["spec"]["timeZone"] == "Asia/Seoul"
    assert nightly_env["MIRROR_TIMEZONE"] == "Asia/Seoul"
    assert nightly_env["MIRROR_PREFIX"] == "{yesterday:%Y/%m/%d}/"
    assert full_env["MIRROR_PREFIX"] == ""
    pairs = "minio/photos:aws/photos-backup;minio/checkpoints:aws/checkpoints-backup"
    assert full_env["BUCKET_PAIRS"] == nightly_env["BUCKET_PAIRS"] == pairs
    assert full_env["MIRROR_EXCLUDE"] == "*.tmp,.DS_Store"
    assert full_env["MINIO_ACCESS_KEY"] == nightly_env["MINIO_ACCESS_KEY"] == "minio-access"
    assert full_env["AWS_URL"] == "https://s3.ap-northeast-2.amazonaws.com"
    assert full["spec"]["concurrencyPolicy"] == nightly["spec"]["concurrencyPolicy"] == "Forbid"
    assert container(full)["resources"]["limits"] == {"cpu": "2", "memory": "1Gi"}
    assert container(nightly)["resources"]["limits"] == {"memory": "512Mi"}
    assert full["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"] == 79200


def _days_of_week(schedule: str) -> set[int]:
    """The days (0 = Sunday) of a five-field cron schedule's day-of-week field: `*`, lists,
    ranges and steps; 7 is Sunday too."""
    days: set[int] = set()
    for part in schedule.split()[4].split(","):
        span, _, step = part.partition("/")
        first, _, last = ("0-6" if span == "*" else span).partition("-")
        end = last or ("6" if step else first)
        days |= {day % 7 for day in range(int(first), int(end) + 1, int(step or 1))}
    return days


def test_the_nightly_example_job_never_runs_on_the_full_syncs_day() -> None:
    """Two runs on the same pairs must never overlap: the nightly job skips the day of the full
    sync, which copies every missing key (the folder the nightly run would have copied too)."""
    jobs = {job["name"]: job for job in example("weekly-and-nightly.yaml")["jobs"]}
    full, nightly = jobs["full"]["schedule"], jobs["nightly"]["schedule"]

    assert full.split()[2:4] == nightly.split()[2:4] == ["*", "*"]  # day of week only
    assert _days_of_week(full) == {0}
    assert _days_of_week(nightly) == {1, 2, 3, 4, 5, 6}
    assert _days_of_week("0 2 * * *") & _days_of_week(full)  # the helper sees the old overlap


def test_failed_objects_wait_for_the_next_run_and_a_stuck_run_is_stopped() -> None:
    """Exit 1 (failed objects or pair) and 2 (configuration) fail the Job at once: a retry would
    list every key and post to Slack again. A pod evicted by a drain is retried without counting.
    The default deadline stops a run that hangs (or a pod that never starts) within a day, so
    with Forbid it cannot block every later run; null means no deadline."""
    values = merged(KEYS, {"endpoints": {"aws": {"region": "eu-west-1"}},
                           "jobs": [{"name": "nightly", "pairs": ["minio/photos:aws/photos"]}]})
    job = cronjob(manifests(values), "nightly")["spec"]["jobTemplate"]["spec"]
    in_defaults = merged(values, {"jobDefaults": {"activeDeadlineSeconds": None}})
    in_the_job = merged(values, {"jobs": [{**values["jobs"][0], "activeDeadlineSeconds": None}]})

    assert job["podFailurePolicy"]["rules"] == [
        {"action": "FailJob",
         "onExitCodes": {"containerName": "mirror", "operator": "In", "values": [1, 2]}},
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}]
    assert job["activeDeadlineSeconds"] == 82800
    for no_deadline in (in_defaults, in_the_job):
        spec = cronjob(manifests(no_deadline), "nightly")["spec"]["jobTemplate"]["spec"]
        assert "activeDeadlineSeconds" not in spec


def test_pods_run_locked_down_by_default() -> None:
    """Non-root, read-only root filesystem, no capabilities, seccomp, a writable /tmp only."""
    objects = manifests(WEEKLY_AND_NIGHTLY)
    cron = cronjob(objects, "nightly")
    pod, box = pod_spec(cron), container(cron)

    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert box["securityContext"]["readOnlyRootFilesystem"] is True
    assert box["securityContext"]["allowPrivilegeEscalation"] is False
    assert box["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert box["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]  # noqa: S108
    assert pod["volumes"] == [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}]
    assert pod["restartPolicy"] == "Never"
    assert pod["automountServiceAccountToken"] is False
    account = of_kind(objects, "ServiceAccount")[0]
    assert pod["serviceAccountName"] == account["metadata"]["name"]
    assert box["image"] == "minio-s3-mirror:0.1.0"


def test_credentials_live_only_in_the_secret_and_its_checksum_rolls_the_pods() -> None:
    """Keys are secretKeyRefs to the chart's Secret; changing one changes checksum/secret."""
    objects = manifests(WEEKLY_AND_NIGHTLY)
    cron = cronjob(objects, "full")
    plain = yaml.safe_dump(of_kind(objects, "CronJob"))
    changed = merged(WEEKLY_AND_NIGHTLY, {"endpoints": {"aws": {"secretKey": "rotated"}}})

    assert secrets(objects) == {f"{RELEASE}-minio-s3-mirror": {
        "MINIO_ACCESS_KEY": "minio-access", "MINIO_SECRET_KEY": "minio-secret-value",
        "AWS_ACCESS_KEY": "aws-access", "AWS_SECRET_KEY": "aws-secret-value"}}
    assert "secret-value" not in plain
    assert "minio-access" not in plain
    annotation = cron["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["annotations"]
    rotated = cronjob(manifests(changed), "full")["spec"]["jobTemplate"]["spec"]["template"]
    assert re.fullmatch(r"[0-9a-f]{64}", annotation["checksum/secret"])
    assert rotated["metadata"]["annotations"]["checksum/secret"] != annotation["checksum/secret"]


def test_irsa_existing_secret_and_slack() -> None:
    """IRSA: no aws keys anywhere; other keys and the Slack token from the existing Secret."""
    objects = manifests(IRSA_R2_SLACK)
    to_s3, to_r2 = cronjob(objects, "datasets-to-s3"), cronjob(objects, "photos-to-r2")
    existing = {"mirror-credentials": {"MINIO_ACCESS_KEY": "m", "MINIO_SECRET_KEY": "ms",
                                       "R2_ACCESS_KEY": "r", "R2_SECRET_KEY": "rs",
                                       "SLACK_BOT_TOKEN": "xoxb-1"}}
    s3_env = container_env(to_s3, objects, existing)
    r2_env = container_env(to_r2, objects, existing)

    assert of_kind(objects, "Secret") == []
    account = of_kind(objects, "ServiceAccount")[0]
    assert account["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/minio-s3-mirror"}
    assert {k: v for k, v in s3_env.items() if k.startswith("AWS_")} == {"AWS_REGION": "eu-west-1"}
    assert not any(k.startswith("R2_") for k in s3_env)
    assert not any(k.startswith("AWS_") for k in r2_env)
    assert (r2_env["R2_ACCESS_KEY"], r2_env["R2_PROVIDER"]) == ("r", "r2")
    assert (s3_env["SLACK_CHANNEL_ID"], s3_env["SLACK_BOT_TOKEN"]) == ("C0123456789", "xoxb-1")
    assert r2_env["MIRROR_PREFIX"] == "{yesterday:%Y/%m/%d}/,{today:%Y/%m/%d}/"
    assert r2_env["MIRROR_MAX_WORKERS"] == "32"
    preview = cronjob(objects, "preview")
    assert preview["spec"]["suspend"] is True
    assert container_env(preview, objects, existing)["MIRROR_DRY_RUN"] == "true"
    template = to_s3["spec"]["jobTemplate"]["spec"]["template"]
    assert "annotations" not in template["metadata"]


def test_every_cronjob_and_pod_field_reaches_the_manifest() -> None:
    """CronJob, Job and pod settings of a job entry, and the shared pod settings, all apply."""
    objects = manifests(EVERYTHING)
    cron = cronjob(objects, "hourly")
    spec, job = cron["spec"], cron["spec"]["jobTemplate"]["spec"]
    pod, box = pod_spec(cron), container(cron)
    env = container_env(cron, objects, configmaps={"proxy": {"url": "http://proxy:3128"}})

    assert cron["metadata"]["name"] == "mirror-hourly"
    assert cron["metadata"]["labels"]["team"] == "platform"
    assert (spec["schedule"], spec["timeZone"], spec["suspend"]) == ("@hourly", "Etc/UTC", True)
    assert spec["concurrencyPolicy"] == "Replace"
    assert "startingDeadlineSeconds" not in spec
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (1, 5)
    assert (job["backoffLimit"], job["activeDeadlineSeconds"]) == (6, 3300)
    assert job["ttlSecondsAfterFinished"] == 1000000
    assert job["podFailurePolicy"]["rules"][0]["onExitCodes"]["values"] == [1, 2]
    assert pod["terminationGracePeriodSeconds"] == 120
    assert pod["serviceAccountName"] == "mirror-runner"
    assert of_kind(objects, "ServiceAccount") == []
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert pod["nodeSelector"] == {"kubernetes.io/arch": "amd64"}
    assert pod["tolerations"][0]["key"] == "batch"
    assert "nodeAffinity" in pod["affinity"]
    template = job["template"]["metadata"]
    assert template["labels"]["cost-center"] == "backup"
    assert template["labels"]["team"] == "platform"  # commonLabels reach the pods too
    assert template["annotations"]["cluster-autoscaler.kubernetes.io/safe-to-evict"] == "false"
    assert box["image"] == "registry.example.com/ops/minio-s3-mirror@sha256:" + "ab" * 32
    assert box["imagePullPolicy"] == "Always"
    assert box["resources"]["limits"] == {"cpu": 4, "memory": "2Gi"}
    assert {"name": "ca", "mountPath": "/etc/mirror-ca", "readOnly": True} in box["volumeMounts"]
    assert {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "32Mi"}} in pod["volumes"]
    assert env == {
        "SERVICE": "models", "BUCKET_PAIRS": "minio/models/weights:vultr/models-backup/weights",
        "MIRROR_PREFIX": "{today:%Y/%m/%d}/,{now-1h:%Y/%m/%d}/", "MIRROR_TIMEZONE": "Etc/UTC",
        "MIRROR_EXCLUDE": "*.part", "MIRROR_DRY_RUN": "false", "MIRROR_OVERWRITE": "true",
        "MIRROR_SKIP_ERRORS": "false", "MIRROR_MAX_WORKERS": "24", "MIRROR_LARGE_TRANSFERS": "8",
        "MIRROR_PART_SIZE": "64MiB", "MIRROR_BANDWIDTH_LIMIT": "20MiB/s",
        "MIRROR_DEBUG": "true", "MIRROR_LOG_FORMAT": "json",
        "MINIO_URL": "https://minio.internal:9000", "MINIO_PROVIDER": "minio",
        "MINIO_CA_FILE": "/etc/mirror-ca/ca.pem",
        "MINIO_ETAG_IS_MD5": "false", "MINIO_ACCESS_KEY": "a", "MINIO_SECRET_KEY": "b",
        "VULTR_URL": "https://ewr1.vultrobjects.com", "VULTR_PROVIDER": "vultr",
        "VULTR_REGION": "ewr1", "VULTR_PRICING": "unknown", "VULTR_STORAGE_CLASS": "STANDARD",
        "VULTR_ACCESS_KEY": "c",
        "VULTR_SECRET_KEY": "d", "SLACK_CHANNEL_ID": "C42",
        "SLACK_BOT_TOKEN": "xoxb-not-a-real-token",
        "SLACK_API_URL": "https://slack-proxy.internal/api/",
        "MIRROR_PUSHGATEWAY_URL": "http://pushgateway.monitoring:9091",
        "AWS_EC2_METADATA_DISABLED": "true", "HTTPS_PROXY": "http://proxy:3128"}


@pytest.mark.parametrize("values", [WEEKLY_AND_NIGHTLY, IRSA_R2_SLACK, EVERYTHING],
                         ids=["weekly-and-nightly", "irsa-r2-slack", "everything"])
def test_the_chart_sets_only_variables_of_the_worker_contract(values: dict[str, Any]) -> None:
    """Every variable the chart itself sets is one the worker reads (settings.VARIABLES)."""
    names = [v.name for v in VARIABLES]
    contract = re.compile("^(" + "|".join(
        re.escape(n).replace(re.escape("<ALIAS>"), "[A-Z][A-Z0-9_]*") for n in names) + ")$")
    extra = {e["name"] for job in values.get("jobs", []) for e in job.get("extraEnv", [])}
    for cron in of_kind(manifests(values), "CronJob"):
        chart_set = [e["name"] for e in container(cron)["env"] if e["name"] not in extra]
        assert [n for n in chart_set if not contract.match(n)] == []
        assert len(chart_set) == len(set(chart_set)), "a variable is set twice"


def test_notes_say_how_to_run_a_job_now_and_read_its_logs() -> None:
    """NOTES.txt names each CronJob and gives the kubectl commands for a run now and its logs."""
    text = notes(WEEKLY_AND_NIGHTLY)
    name = f"{RELEASE}-minio-s3-mirror-full"

    assert f"kubectl create job -n {NAMESPACE} \"$JOB\" --from=cronjob/{name}" in text
    assert f"kubectl logs -n {NAMESPACE} -f \"job/$JOB\"" in text
    assert f"{RELEASE}-minio-s3-mirror-nightly: \"0 2 * * 1-6\" (Asia/Seoul)" in text
    assert "prefix: {yesterday:%Y/%m/%d}/" in text


@pytest.mark.parametrize(("values", "secret"), [(WEEKLY_AND_NIGHTLY, f"{RELEASE}-minio-s3-mirror"),
                                                (IRSA_R2_SLACK, "mirror-credentials")],
                         ids=["chart-secret", "existing-secret"])
def test_notes_explain_a_pod_stuck_in_create_container_config_error(
        values: dict[str, Any], secret: str) -> None:
    """A Secret without one of the aws keys leaves the pod unstarted, any other missing key
    is the worker's to name: NOTES.txt says which Secret and where to look. With the aws
    alias on its IAM role, no key is required, and NOTES.txt does not say one is."""
    text = " ".join(notes(values).split())

    assert (f"A key missing from the Secret the pods read, {secret}, is named by the worker, "
            "which exits 2") in text
    if values is IRSA_R2_SLACK:  # every key optional: nothing can hold the pod unstarted
        assert "CreateContainerConfigError" not in text
        assert "The aws alias takes the AWS credential chain (its IAM role), so no key of the " \
               "Secret is required to start a pod" in text
    else:
        assert "stuck in CreateContainerConfigError lacks one of those, or the Secret" in text
    assert f"kubectl describe pod -n {NAMESPACE} -l app.kubernetes.io/instance={RELEASE}" in text


def test_chart_versions_providers_and_prices_follow_the_worker() -> None:
    """appVersion (the default image tag) is the package's version; the providers and price
    tables an endpoint may name are the worker's."""
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    schema = yaml.safe_load((CHART / "values.schema.json").read_text())
    endpoint = schema["properties"]["endpoints"]["additionalProperties"]["properties"]

    assert chart["appVersion"] == project["version"] == mirror.__version__
    assert set(endpoint["provider"]["enum"]) == {"", *PROVIDERS}
    assert set(endpoint["pricing"]["enum"]) == {"", *TABLES}


def _undocumented(lines: list[str]) -> list[str]:
    """Keys holding a value with no comment before them in their paragraph (blank-line
    separated): a comment documents the keys that follow it up to the next blank line."""
    missing, commented = [], False
    for line in lines:
        stripped = line.strip()
        if not stripped:
            commented = False
        elif stripped.startswith("#"):
            commented = True
        elif re.match(r"^ *[A-Za-z]\w*: *\S", line) and not commented:
            missing.append(stripped)
    return missing


def test_every_value_is_in_the_schema_documented_in_values_yaml_and_in_the_readme() -> None:
    """values.yaml, values.schema.json and the chart README describe the same values."""
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    schema = yaml.safe_load((CHART / "values.schema.json").read_text())["properties"]
    lines = (CHART / "values.yaml").read_text().splitlines()
    readme = (CHART / "README.md").read_text()
    jobs_schema = schema["jobs"]["items"]["properties"]

    assert set(values) == set(schema) - {"global"}
    assert set(values["jobDefaults"]) == set(schema["jobDefaults"]["properties"])
    assert set(jobs_schema) == set(values["jobDefaults"]) | {"name"}
    assert set(values["endpoints"]["minio"]) == set(
        schema["endpoints"]["additionalProperties"]["properties"])
    assert _undocumented(lines) == []
    for key in [*values, *values["jobDefaults"], *values["endpoints"]["minio"]]:
        assert re.search(rf"`([\w.<>]+\.)?{key}[`.]", readme), f"the chart README omits {key}"


@pytest.mark.parametrize(("readme", "heading"), [(ROOT / "README.md", "## Kubernetes (Helm)"),
                                                  (CHART / "README.md", "## Install")],
                         ids=["project", "chart"])
def test_the_readme_values_install_the_weekly_and_nightly_jobs_it_names(readme: Path,
                                                                        heading: str) -> None:
    """The READMEs' values example renders valid CronJobs, named as their kubectl lines say."""
    text = readme.read_text()
    section = text[text.index(heading):]
    example_block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert example_block is not None
    values = yaml.safe_load(example_block.group(1))
    objects = manifests(merged(values, KEYS))
    names = {o["metadata"]["name"] for o in of_kind(objects, "CronJob")}

    validate(objects)
    assert names == {f"{RELEASE}-minio-s3-mirror-full", f"{RELEASE}-minio-s3-mirror-nightly"}
    for name in re.findall(r"--from=cronjob/(\S+)", section):
        assert name in names
    assert container_env(cronjob(objects, "nightly"), objects)["MIRROR_PREFIX"] == (
        "{yesterday:%Y/%m/%d}/")
    schedules = {job["name"]: job["schedule"] for job in values["jobs"]}
    assert not _days_of_week(schedules["full"]) & _days_of_week(schedules["nightly"])


def test_common_labels_reach_the_pods_and_a_jobs_pod_labels_win() -> None:
    values = merged(WEEKLY_AND_NIGHTLY, {"commonLabels": {"team": "platform", "tier": "backup"}})
    values["jobs"][0]["podLabels"] = {"team": "data"}
    objects = manifests(values)
    first, second = [c["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
                     for c in of_kind(objects, "CronJob")]

    assert (first["team"], first["tier"]) == ("data", "backup")
    assert (second["team"], second["tier"]) == ("platform", "backup")
    validate(objects)
