"""Credentials written in the values that the release would not read are refused: with
existingSecret the pods read every key from that Secret, and the aws alias on its
credential chain reads none, so an inline key there was silently dropped (the run then
signed with other keys, or none, than the ones the user just set)."""

from __future__ import annotations

from typing import Any

import helm_python as helm
import pytest
from chart_support import manifests, merged, of_kind, secrets

GOOD: dict[str, Any] = {
    "endpoints": {"minio": {"accessKey": "a", "secretKey": "b"},
                  "aws": {"url": "https://s3.eu-west-1.amazonaws.com", "accessKey": "c",
                          "secretKey": "d"}},
    "jobs": [{"name": "nightly", "pairs": ["minio/photos:aws/photos"]}]}
NO_KEYS = {"endpoints": {"minio": {"accessKey": "", "secretKey": ""},
                         "aws": {"accessKey": "", "secretKey": ""}}}
EXISTING = merged(GOOD, {**NO_KEYS, "existingSecret": "mirror-credentials"})


@pytest.mark.parametrize(("values", "message"), [
    (merged(EXISTING, {"endpoints": {"minio": {"accessKey": "new-key"}}}),
     "endpoints.minio.accessKey is set, but existingSecret (mirror-credentials) is too"),
    (merged(EXISTING, {"endpoints": {"aws": {"secretKey": "rotated"}}}),
     "the pods read AWS_SECRET_KEY from that Secret"),
    (merged(EXISTING, {"slack": {"channelId": "C1", "botToken": "xoxb-new"}}),
     "slack.botToken is set, but existingSecret (mirror-credentials) is too"),
    (merged(GOOD, {"endpoints": {"aws": {"credentialChain": True, "region": "eu-west-1"}}}),
     "endpoints.aws.accessKey is set, but endpoints.aws.credentialChain is true"),
], ids=["existing-secret-and-access-key", "existing-secret-and-secret-key",
        "existing-secret-and-slack-token", "credential-chain-and-keys"])
def test_a_key_the_release_would_ignore_is_refused(values: dict[str, Any],
                                                   message: str) -> None:
    with pytest.raises(helm.HelmError) as refused:
        manifests(values)

    assert message in " ".join(str(refused.value).split())
    assert "new-key" not in str(refused.value)
    assert "rotated" not in str(refused.value)


def test_each_source_of_keys_alone_still_renders() -> None:
    with_existing = manifests(merged(EXISTING, {"slack": {"channelId": "C1"}}))
    with_chain = manifests(merged(GOOD, {"endpoints": {"aws": {
        "accessKey": "", "secretKey": "", "credentialChain": True, "region": "eu-west-1"}}}))

    assert of_kind(with_existing, "Secret") == []
    assert secrets(with_chain) == {"backup-minio-s3-mirror": {
        "MINIO_ACCESS_KEY": "a", "MINIO_SECRET_KEY": "b"}}
