"""The Helm chart as the tests see it: rendered by the real Helm engine, checked against the
Kubernetes schemas, and turned back into the environment a CronJob's container would get.

Helpers only; the tests are in tests/test_chart_*.py.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import yaml
from kubernetes_validate import utils as kubernetes_versions

from mirror.sandbox import LocalS3

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "helm" / "minio-s3-mirror"
EXAMPLES = CHART / "examples"
RELEASE, NAMESPACE = "backup", "mirror"

# The oldest Kubernetes the chart declares (Chart.yaml kubeVersion) and the newest whose
# schemas kubernetes-validate bundles (it works offline).
KUBERNETES_VERSIONS = ("1.29.0", kubernetes_versions.latest_version())

helm.disable_logging()


def example(name: str) -> dict[str, Any]:
    """The values of one of the chart's examples/*.yaml files."""
    loaded: dict[str, Any] = yaml.safe_load((EXAMPLES / name).read_text())
    return loaded


def merged(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Values as `helm -f base -f override` combines them: maps merge, anything else replaces."""
    result = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = merged(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def render(values: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Every template rendered offline by Helm (schema checked, `fail` guards run)."""
    with helm.Chart.load(CHART) as chart:
        return chart.render(dict(values) if values is not None else None,
                            name=RELEASE, namespace=NAMESPACE, is_install=True)


def manifests(values: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """The Kubernetes objects of a release (NOTES.txt and empty documents left out)."""
    objects = []
    for path, text in sorted(render(values).items()):
        if path.endswith(".txt"):
            continue
        objects += [doc for doc in yaml.safe_load_all(text) if doc]
    return objects


def notes(values: Mapping[str, Any] | None = None) -> str:
    return next(text for path, text in render(values).items() if path.endswith("NOTES.txt"))


def of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def cronjob(objects: list[dict[str, Any]], job: str) -> dict[str, Any]:
    """The CronJob of the entry of `jobs` named `job`."""
    found = [o for o in of_kind(objects, "CronJob")
             if o["metadata"]["labels"]["app.kubernetes.io/component"] == job]
    assert len(found) == 1, f"no CronJob for {job}: {[o['metadata']['name'] for o in objects]}"
    return found[0]


def pod_spec(cron: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return spec


def container(cron: dict[str, Any]) -> dict[str, Any]:
    containers = pod_spec(cron)["containers"]
    assert len(containers) == 1
    found: dict[str, Any] = containers[0]
    return found


def validate(objects: list[dict[str, Any]]) -> None:
    """Each object against the Kubernetes schemas (strict: unknown fields are errors)."""
    for version in KUBERNETES_VERSIONS:
        for obj in objects:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                path = "/".join(str(p) for p in exc.path)
                raise AssertionError(f"{obj['kind']}/{obj['metadata']['name']} is invalid on "
                                     f"Kubernetes {version} at {path}: {exc.message}") from exc


def lint(values: Mapping[str, Any] | None = None) -> list[str]:
    """`helm lint --strict` findings at warning level or above (info findings are advice)."""
    problems = []
    for version in KUBERNETES_VERSIONS:
        report = helm.lint(CHART, dict(values) if values is not None else None, strict=True,
                           kube_version=f"v{version}")
        problems += report["errors"]
        problems += [f"{m['path']}: {m['error']}" for m in report["messages"]
                     if m["severity"] >= 2]
    return problems


def secrets(objects: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """The rendered Secrets by name, their data decoded."""
    found = {}
    for obj in of_kind(objects, "Secret"):
        data = {k: base64.b64decode(v).decode() for k, v in obj.get("data", {}).items()}
        data.update(obj.get("stringData", {}))
        found[obj["metadata"]["name"]] = data
    return found


def container_env(cron: dict[str, Any], objects: list[dict[str, Any]],
                  existing: Mapping[str, Mapping[str, str]] | None = None,
                  configmaps: Mapping[str, Mapping[str, str]] | None = None) -> dict[str, str]:
    """The environment the kubelet would give the CronJob's container.

    Plain values as they are; `secretKeyRef`s resolved from the rendered Secrets or from
    `existing` (Secrets made outside the chart), `configMapKeyRef`s from `configmaps`. A
    reference that cannot be resolved fails, as the pod would (CreateContainerConfigError),
    unless it is optional.
    """
    sources = {"secretKeyRef": {**secrets(objects),
                                **{k: dict(v) for k, v in (existing or {}).items()}},
               "configMapKeyRef": {k: dict(v) for k, v in (configmaps or {}).items()}}
    env: dict[str, str] = {}
    for var in container(cron).get("env", []):
        if "value" in var:
            env[var["name"]] = var["value"]
            continue
        [(kind, ref)] = var["valueFrom"].items()
        assert kind in sources, f"cannot resolve {var} without a cluster"
        data = sources[kind].get(ref["name"], {})
        if ref["key"] in data:
            env[var["name"]] = data[ref["key"]]
        else:
            assert ref.get("optional"), (f"{var['name']}: {ref['name']!r} has no key "
                                         f"{ref['key']!r}; the pod would not start")
    return env


def server_values(**servers: LocalS3) -> dict[str, Any]:
    """Values that point the chart's endpoints at the suite's local S3 servers."""
    return {"endpoints": {alias: {"url": server.url, "provider": server.provider,
                                  "accessKey": server.access_key,
                                  "secretKey": server.secret_key}
                          for alias, server in servers.items()}}
