"""NOTES.txt says what can hold a release's pods unstarted: only the aws alias's keys are
required references of the Secret, so a release whose jobs never use the aws alias (MinIO to
R2, say) has nothing that can leave a pod in CreateContainerConfigError, and its NOTES must
not send the user looking for aws keys it does not need."""

from __future__ import annotations

from typing import Any

from chart_support import NAMESPACE, RELEASE, container, cronjob, manifests, notes

R2_ONLY: dict[str, Any] = {
    "existingSecret": "mirror-credentials",
    "endpoints": {"r2": {"url": "https://0123456789abcdef.r2.cloudflarestorage.com",
                         "provider": "r2"}},
    "jobs": [{"name": "photos", "pairs": ["minio/photos:r2/photos"]}]}


def test_a_release_without_the_aws_alias_requires_no_key_to_start_a_pod() -> None:
    objects = manifests(R2_ONLY)
    references = [e["valueFrom"]["secretKeyRef"]
                  for e in container(cronjob(objects, "photos"))["env"] if "valueFrom" in e]
    text = " ".join(notes(R2_ONLY).split())

    assert references, "the job reads its keys from the Secret"
    assert all(ref.get("optional") for ref in references)  # nothing can hold the pod
    assert "aws alias's keys are required" not in text
    assert "CreateContainerConfigError" not in text
    assert "No job uses the aws alias, so no key of the Secret is required to start a pod" in text
    assert f"kubectl describe pod -n {NAMESPACE} -l app.kubernetes.io/instance={RELEASE}" in text
