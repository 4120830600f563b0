"""Bad chart values fail at render time, before anything reaches a cluster, with a message
that names the value and says what to do."""

from __future__ import annotations

from typing import Any

import helm_python as helm
import pytest
from chart_support import container_env, manifests, merged, of_kind, render

from mirror.settings import ConfigError, load_settings

KEYS = {"minio": {"accessKey": "a", "secretKey": "b"},
        "aws": {"url": "https://s3.eu-west-1.amazonaws.com", "accessKey": "c", "secretKey": "d"}}
GOOD: dict[str, Any] = {"endpoints": KEYS,
                        "jobs": [{"name": "nightly", "pairs": ["minio/photos:aws/photos"]}]}


def job(**settings: Any) -> dict[str, Any]:
    return {**GOOD, "jobs": [{**GOOD["jobs"][0], **settings}]}


def render_error(values: dict[str, Any]) -> str:
    with pytest.raises(helm.HelmError) as caught:
        render(values)
    return str(caught.value)


SCHEMA_ERRORS = {
    "schedule-not-a-string": (job(schedule=5), "at '/jobs/0/schedule': got number, want string"),
    "schedule-not-cron": (job(schedule="every night"), "at '/jobs/0/schedule'"),
    "schedule-with-seconds": (job(schedule="0 0 2 * * *"), "at '/jobs/0/schedule'"),
    "schedule-with-a-stray-character": (job(schedule="0 2 * * 1;"), "at '/jobs/0/schedule'"),
    "unknown-job-key": (job(shedule="0 2 * * *"),
                        "at '/jobs/0': additional properties 'shedule' not allowed"),
    "unknown-top-level-key": ({**GOOD, "endpoint": {}},
                              "at '': additional properties 'endpoint' not allowed"),
    "unknown-endpoint-key": (merged(GOOD, {"endpoints": {"minio": {"accesKey": "x"}}}),
                             "at '/endpoints/minio': additional properties 'accesKey' not allowed"),
    "unknown-default-key": ({**GOOD, "jobDefaults": {"dry_run": True}},
                            "at '/jobDefaults': additional properties 'dry_run' not allowed"),
    "unknown-provider": (merged(GOOD, {"endpoints": {"aws": {"provider": "s3"}}}),
                         "at '/endpoints/aws/provider'"),
    "url-with-bucket": (merged(GOOD, {"endpoints": {"aws": {"url": "https://s3.x.com/bucket"}}}),
                        "at '/endpoints/aws/url'"),
    "uppercase-alias": (merged(GOOD, {"endpoints": {"R2": {"url": "https://r2.example"}}}),
                        "invalid propertyName 'R2'"),
    "alias-of-the-slack-url": (
        merged(GOOD, {"endpoints": {"slack_api": {"url": "https://s3.example"}}}),
        "invalid propertyName 'slack_api'"),
    "storage-class-with-space": (
        merged(GOOD, {"endpoints": {"aws": {"storageClass": "GLACIER IR"}}}),
        "at '/endpoints/aws/storageClass'"),
    "bandwidth-in-bits": (job(bandwidthLimit="100Mbit/s"), "at '/jobs/0/bandwidthLimit'"),
    "time-zone-local": (job(timeZone="Local"), "at '/jobs/0/timeZone'"),
    "env-value-and-value-from": (
        job(extraEnv=[{"name": "X", "value": "1",
                       "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]),
        "at '/jobs/0/extraEnv/0'"),
    "tmp-size-not-a-quantity": ({**GOOD, "tmpVolume": {"sizeLimit": "lots"}},
                                "at '/tmpVolume/sizeLimit'"),
    "pod-label-of-the-chart": (job(podLabels={"app.kubernetes.io/instance": "x"}),
                               "invalid propertyName 'app.kubernetes.io/instance'"),
    "bandwidth-megabits": (job(bandwidthLimit="100Mb/s"), "at '/jobs/0/bandwidthLimit'"),
    "bandwidth-mebibits": (job(bandwidthLimit="100Mib/s"), "at '/jobs/0/bandwidthLimit'"),
    "dry-run-as-string": (job(dryRun="yes"), "at '/jobs/0/dryRun': got string, want boolean"),
    "too-many-workers": (job(maxWorkers=1000), "at '/jobs/0/maxWorkers'"),
    "no-large-transfers": (job(largeTransfers=0), "at '/jobs/0/largeTransfers'"),
    "policy-lowercase": (job(concurrencyPolicy="forbid"), "at '/jobs/0/concurrencyPolicy'"),
    "job-name-uppercase": (job(name="Nightly"), "at '/jobs/0/name'"),
    "job-without-name": ({**GOOD, "jobs": [{"pairs": ["minio/a:aws/b"]}]},
                         "at '/jobs/0': missing property 'name'"),
    "negative-deadline": (job(activeDeadlineSeconds=-1), "at '/jobs/0/activeDeadlineSeconds'"),
    "pairs-as-string": (job(pairs="minio/a:aws/b"), "at '/jobs/0/pairs': got string, want array"),
    "slack-api-url-port-not-a-number": ({**GOOD, "slack": {"apiUrl": "http://slack:abc/api/"}},
                                        "at '/slack/apiUrl'"),
    "pushgateway-port-not-a-number": ({**GOOD, "metrics": {"pushgatewayUrl": "http://pg:abc"}},
                                      "at '/metrics/pushgatewayUrl'"),
    "pushgateway-password-in-values": (
        {**GOOD, "metrics": {"pushgatewayUrl": "https://mirror:pw@pushgateway.example"}},
        "at '/metrics/pushgatewayUrl'"),
}


@pytest.mark.parametrize(("values", "message"), SCHEMA_ERRORS.values(), ids=SCHEMA_ERRORS.keys())
def test_values_that_break_the_schema_are_rejected_with_their_path(values: dict[str, Any],
                                                                   message: str) -> None:
    """values.schema.json: wrong types, unknown keys of closed objects, bad enums and patterns."""
    error = render_error(values)

    assert "values don't meet the specifications of the schema" in error
    assert message in error



@pytest.mark.parametrize("schedule", ["0 2 * * *", "*/15 0-6 ? * MON-FRI", "30 1 1,15 * *",
                                      "@daily", " 0 3 * * 0 "])
def test_the_cron_forms_kubernetes_accepts_render(schedule: str) -> None:
    """The schema's schedule pattern refuses seconds fields and stray characters, not the
    ranges, steps, lists, names and macros a CronJob takes."""
    cronjob = of_kind(manifests(job(schedule=schedule)), "CronJob")[0]

    assert cronjob["spec"]["schedule"] == schedule

GUARDS = {
    "one-service-for-two-jobs-with-metrics": (
        {**GOOD, "metrics": {"pushgatewayUrl": "http://pushgateway:9091"},
         "jobDefaults": {"service": "ml-platform", "pairs": ["minio/photos:aws/photos"]},
         "jobs": [{"name": "full"}, {"name": "nightly", "prefix": "{yesterday}/"}]},
        "jobs[1] (nightly): service \"ml-platform\" is also jobs[0] (full)'s: the Pushgateway "
        "groups a run's metrics by service and pair"),
    "job-without-pairs": (
        {**GOOD, "jobs": [{"name": "full"}]},
        "jobs[0] (full) has no bucket pairs: set jobs[0].pairs, or jobDefaults.pairs"),
    "no-credentials": (
        {"jobs": GOOD["jobs"], "endpoints": {"aws": KEYS["aws"]}},
        'jobs[0] (nightly) uses the alias "minio", which has no credentials: set '
        "endpoints.minio.accessKey and endpoints.minio.secretKey, or existingSecret (a Secret "
        "with the keys MINIO_ACCESS_KEY and MINIO_SECRET_KEY)"),
    "aws-without-credentials": (
        {"jobs": GOOD["jobs"], "endpoints": {"minio": KEYS["minio"],
                                             "aws": {"url": "https://s3.x.amazonaws.com"}}},
        "or endpoints.aws.credentialChain: true for IAM roles for service accounts"),
    "half-the-keys": (
        merged(GOOD, {"endpoints": {"minio": {"secretKey": ""}}}),
        'uses the alias "minio", which has no credentials'),
    "alias-without-endpoint": (
        job(pairs=["minio/photos:r2/photos"]),
        'jobs[0] (nightly) uses the alias "r2", which has no entry in endpoints: add '
        "endpoints.r2.url"),
    "endpoint-without-url": (
        merged(job(pairs=["minio/photos:r2/photos"]),
               {"endpoints": {"r2": {"accessKey": "x", "secretKey": "y"}}}),
        'jobs[0] (nightly) uses the alias "r2": set endpoints.r2.url (R2_URL)'),
    "pair-without-colon": (
        job(pairs=["minio/photos aws/photos"]),
        'jobs[0] (nightly): pair "minio/photos aws/photos" must be source:target'),
    "pair-without-bucket": (
        job(pairs=["minio:aws/photos"]),
        'jobs[0] (nightly): pair "minio:aws/photos": each side must be alias/bucket'),
    "chain-on-minio": (
        merged(GOOD, {"endpoints": {"minio": {"credentialChain": True}}}),
        "endpoints.minio.credentialChain: only the aws alias can use the AWS credential chain"),
    "slack-without-token": (
        {**GOOD, "slack": {"channelId": "C1"}},
        "slack.channelId is set but there is no token: set slack.botToken, or existingSecret"),
    "slack-without-channel": (
        {**GOOD, "slack": {"botToken": "xoxb-1"}},
        "slack.botToken is set but slack.channelId is not"),
    "same-name-twice": (
        {**GOOD, "jobs": [*GOOD["jobs"], *GOOD["jobs"]]},
        'jobs[1] (nightly): the job name "nightly" is used twice'),
    "name-too-long": (
        job(name="a-very-long-job-name-for-a-cronjob"),
        "is 57 characters; Kubernetes allows 52"),
    "extra-env-overrides-the-chart": (
        job(extraEnv=[{"name": "MIRROR_PREFIX", "value": "2025/"}]),
        "jobs[0] (nightly): extraEnv sets MIRROR_PREFIX, which the chart sets from its values"),
    "extra-env-overrides-the-pushgateway-url": (
        {**job(extraEnv=[{"name": "MIRROR_PUSHGATEWAY_URL", "value": "http://other:9091"}]),
         "metrics": {"pushgatewayUrl": "http://pushgateway:9091"}},
        "extraEnv sets MIRROR_PUSHGATEWAY_URL, which the chart sets from its values"),
    "extra-env-sets-the-log-format": (
        job(extraEnv=[{"name": "MIRROR_LOG_FORMAT", "value": "console"}]),
        "extraEnv sets MIRROR_LOG_FORMAT, which the chart fixes to json"),
    "extra-env-overrides-an-endpoint": (
        job(extraEnv=[{"name": "AWS_URL", "value": "https://elsewhere"}]),
        "extraEnv sets AWS_URL"),
    "part-size-below-5mib": (
        job(partSize="1MiB"),
        'jobs[0] (nightly): partSize "1MiB" is outside the part sizes the worker accepts: '
        "5MiB to 5GiB"),
    "annotations-without-the-account": (
        {**GOOD, "serviceAccount": {"create": False, "annotations": {
            "eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/m"}}},
        "serviceAccount.annotations are set but serviceAccount.create is false"),
    "part-size-above-5gib": (
        job(partSize="6GiB"),
        'jobs[0] (nightly): partSize "6GiB" is outside the part sizes the worker accepts'),
}


@pytest.mark.parametrize(("values", "message"), GUARDS.values(), ids=GUARDS.keys())
def test_invariants_the_schema_cannot_express_fail_with_a_readable_message(
        values: dict[str, Any], message: str) -> None:
    """Template `fail` guards: the message names the job, the value to set and how."""
    error = render_error(values)

    assert "execution error" in error
    assert message in error


# The worker's MIRROR_PART_SIZE: 5MiB to 5GiB, K and KiB 1024 bytes, KB 1000 (mirror/settings.py).
PART_SIZES = {"64MiB": True, "5MiB": True, "5GiB": True, "5120K": True, "5242880": True,
              "16 mb": True, "1MiB": False, "6GiB": False, "5000KB": False, "5242879": False}


@pytest.mark.parametrize(("size", "accepted"), PART_SIZES.items(), ids=PART_SIZES.keys())
def test_a_part_size_renders_exactly_when_the_worker_accepts_it(size: str,
                                                                 accepted: bool) -> None:
    """The chart's partSize check parses sizes as the worker does, so a release that renders
    never exits 2 on its part size, and one that would is refused at install time."""
    objects = manifests(GOOD)
    (cron,) = of_kind(objects, "CronJob")
    try:
        load_settings({**container_env(cron, objects), "MIRROR_PART_SIZE": size})
        worker = True
    except ConfigError:
        worker = False
    try:
        rendered = manifests(job(partSize=size))
    except helm.HelmError:
        rendered = []

    assert (bool(rendered), worker) == (accepted, accepted)
    if rendered:
        (cron,) = of_kind(rendered, "CronJob")
        assert container_env(cron, rendered)["MIRROR_PART_SIZE"] == size


def test_an_existing_secret_or_the_credential_chain_replaces_the_keys() -> None:
    """Without keys in the values, existingSecret (or IRSA for aws) is enough to render."""
    with_secret = manifests({"jobs": GOOD["jobs"], "existingSecret": "mine",
                             "endpoints": {"aws": {"region": "eu-west-1"}},
                             "slack": {"channelId": "C1"}})
    with_chain = manifests({"jobs": GOOD["jobs"], "endpoints": {
        "minio": KEYS["minio"], "aws": {"region": "eu-west-1", "credentialChain": True}}})

    assert [o["kind"] for o in with_secret] == ["CronJob", "ServiceAccount"]
    assert {k for s in of_kind(with_chain, "Secret") for k in s["data"]} == {
        "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY"}


def test_a_pushgateway_url_with_credentials_comes_from_a_secret_of_ones_own() -> None:
    """With metrics.pushgatewayUrl empty, a job's extraEnv may take the URL (and its basic
    auth password) from the user's Secret; the chart renders it as given."""
    source = {"secretKeyRef": {"name": "pushgateway-auth", "key": "url"}}
    rendered = manifests(job(extraEnv=[{"name": "MIRROR_PUSHGATEWAY_URL", "valueFrom": source}]))

    (cronjob,) = of_kind(rendered, "CronJob")
    container = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert env["MIRROR_PUSHGATEWAY_URL"]["valueFrom"] == source


# Values the schema lets through in shape, checked by the chart as the worker checks the
# variable they become: (job settings, or whole values), and that variable's value.
AS_THE_WORKER = {
    "bandwidth-1KiB": ({"bandwidthLimit": "1KiB/s"}, {"MIRROR_BANDWIDTH_LIMIT": "1KiB/s"}),
    "bandwidth-65535": ({"bandwidthLimit": "65535"}, {"MIRROR_BANDWIDTH_LIMIT": "65535"}),
    "bandwidth-64KiB": ({"bandwidthLimit": "64KiB/s"}, {"MIRROR_BANDWIDTH_LIMIT": "64KiB/s"}),
    "bandwidth-none": ({"bandwidthLimit": "0"}, {"MIRROR_BANDWIDTH_LIMIT": "0"}),
    "prefix-unclosed": ({"prefix": "{yesterday:%Y/%m/%d"},
                        {"MIRROR_PREFIX": "{yesterday:%Y/%m/%d"}),
    "prefix-not-a-date": ({"prefix": ["a/", "{someday}"]}, {"MIRROR_PREFIX": "a/,{someday}"}),
    "prefix-stray-brace": ({"prefix": "logs}"}, {"MIRROR_PREFIX": "logs}"}),
    "prefix-good": ({"prefix": ["{now-2d:%Y/%m/%d}", "{{raw}}/{today:%Y,%m}"]},
                    {"MIRROR_PREFIX": "{now-2d:%Y/%m/%d},{{raw}}/{today:%Y,%m}"}),
    "prefix-unsupported-directive": ({"prefix": "{yesterday:%F}/"},
                                     {"MIRROR_PREFIX": "{yesterday:%F}/"}),
    "prefix-lone-percent": ({"prefix": "{today:%Y%}"}, {"MIRROR_PREFIX": "{today:%Y%}"}),
    "prefix-literal-percent": ({"prefix": "{today:%Y%%}"}, {"MIRROR_PREFIX": "{today:%Y%%}"}),
    "exclude-comma-in-class": ({"exclude": ["[,;]x"]}, {"MIRROR_EXCLUDE": "[,;]x"}),
    "exclude-unclosed": ({"exclude": ["*.tmp", "[a"]}, {"MIRROR_EXCLUDE": "*.tmp,[a"}),
    "exclude-empty-class": ({"exclude": ["x[]"]}, {"MIRROR_EXCLUDE": "x[]"}),
    "exclude-empty-negated-class": ({"exclude": ["x[!]]"]}, {"MIRROR_EXCLUDE": "x[!]]"}),
    "exclude-lone-escape": ({"exclude": ["abc\\"]}, {"MIRROR_EXCLUDE": "abc\\"}),
    "exclude-slash": ({"exclude": ["/"]}, {"MIRROR_EXCLUDE": "/"}),
    "exclude-good": ({"exclude": ["[!abc]*.log", "[]]x", r"a\*", "tmp/"]},
                     {"MIRROR_EXCLUDE": r"[!abc]*.log,[]]x,a\*,tmp/"}),
    # classes as the worker reads them: ']' right after '[' or '[!' is a member, '\\'
    # escapes inside a class too, and a pattern's trailing '/' is set aside before it is read
    "exclude-bracket-first-in-negated-class": ({"exclude": ["[!]a]*"]},
                                               {"MIRROR_EXCLUDE": "[!]a]*"}),
    "exclude-escaped-bracket-in-class": ({"exclude": [r"x[\]]"]}, {"MIRROR_EXCLUDE": r"x[\]]"}),
    "exclude-escaped-dash-in-class": ({"exclude": [r"[a\-z].txt"]},
                                      {"MIRROR_EXCLUDE": r"[a\-z].txt"}),
    "exclude-negation-alone": ({"exclude": ["x[!]"]}, {"MIRROR_EXCLUDE": "x[!]"}),
    "exclude-escape-before-the-folder-slash": ({"exclude": ["tmp\\/"]},
                                               {"MIRROR_EXCLUDE": "tmp\\/"}),
    "pairs-same-target": ({"pairs": ["minio/a:aws/b", "minio/c:aws/b"]},
                          {"BUCKET_PAIRS": "minio/a:aws/b;minio/c:aws/b"}),
    "pairs-target-inside-another": ({"pairs": ["minio/a:aws/b", "minio/c:aws/b/y"]},
                                    {"BUCKET_PAIRS": "minio/a:aws/b;minio/c:aws/b/y"}),
    "pair-into-itself": ({"pairs": ["minio/a:minio/a/copy"]},
                         {"BUCKET_PAIRS": "minio/a:minio/a/copy"}),
    "pair-bucket-of-dots": ({"pairs": ["minio/..:aws/b"]}, {"BUCKET_PAIRS": "minio/..:aws/b"}),
    "pair-bucket-with-dots": ({"pairs": ["minio/a.b..c:aws/b"]},
                              {"BUCKET_PAIRS": "minio/a.b..c:aws/b"}),
    "pairs-side-by-side": ({"pairs": ["minio/a:aws/b/x", "minio/c:aws/b/xy"]},
                           {"BUCKET_PAIRS": "minio/a:aws/b/x;minio/c:aws/b/xy"}),
    "url-with-credentials": (merged(GOOD, {"endpoints": {"minio": {
        "url": "http://u:p@minio:9000"}}}), {"MINIO_URL": "http://u:p@minio:9000"}),
    "url-port-not-a-number": (merged(GOOD, {"endpoints": {"minio": {
        "url": "http://minio:abc"}}}), {"MINIO_URL": "http://minio:abc"}),
    "url-good": (merged(GOOD, {"endpoints": {"minio": {"url": "http://[fd00::1]:9000"}}}),
                 {"MINIO_URL": "http://[fd00::1]:9000"}),
}


@pytest.mark.parametrize(("values", "variables"), AS_THE_WORKER.values(),
                         ids=AS_THE_WORKER.keys())
def test_a_value_renders_exactly_when_the_worker_accepts_what_it_becomes(
        values: dict[str, Any], variables: dict[str, str]) -> None:
    """No release installs a job that would exit 2 at each run: what the chart renders,
    the worker accepts, and what the worker would refuse, the chart refuses with a message
    naming the job or value."""
    objects = manifests(merged(GOOD, {"endpoints": {"minio": {"url": "http://minio:9000"}}}))
    (cron,) = of_kind(objects, "CronJob")
    try:
        load_settings({**container_env(cron, objects), **variables})
        worker = True
    except ConfigError:
        worker = False
    full = values if "jobs" in values else job(**values)
    full = merged({"endpoints": {"minio": {"url": "http://minio:9000"}}}, full)
    try:
        rendered = manifests(full)
        error = ""
    except helm.HelmError as exc:
        rendered, error = [], str(exc)

    assert (bool(rendered), worker) in ((True, True), (False, False)), error
    if not rendered:
        assert "jobs[0] (nightly)" in error or "at '/endpoints/minio/url'" in error, error


@pytest.mark.parametrize(("values", "named"), [
    ({"prefix": ["2025/01,2025/02"]}, 'prefix "2025/01,2025/02" has a comma outside'),
    ({"prefix": "{{x}},{today}"}, 'prefix "{{x}},{today}" has a comma outside'),
    ({"exclude": ["{a,b}.tmp"]}, 'exclude pattern "{a,b}.tmp" contains a comma'),
])
def test_an_entry_that_would_be_cut_at_its_comma_is_refused(values: dict[str, Any],
                                                            named: str) -> None:
    """Prefixes and exclude patterns reach the worker joined by commas: an entry with a
    comma of its own would silently become two (which the worker accepts), so the chart
    refuses it and says to list each one."""
    with pytest.raises(helm.HelmError) as refused:
        manifests(merged({"endpoints": {"minio": {"url": "http://minio:9000"}}},
                         job(**values)))
    assert named in str(refused.value)
    assert "jobs[0] (nightly)" in str(refused.value)
