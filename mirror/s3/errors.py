"""S3 error responses, sorted by what the caller should do about them."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from html import unescape


class Severity(StrEnum):
    """What a failure means for the run (after the client's own retries are spent)."""

    RETRY = "retry"  # transient: throttling, 5xx, timeouts; retried by the client
    OBJECT = "object"  # this object failed; the pair can go on with the next one
    PAIR = "pair"  # nothing else in this pair can work: credentials, permission, bucket


_RETRY_CODES = frozenset({
    "SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout", "Throttling",
    "ThrottlingException", "RequestTimeTooSkewed", "TooManyRequests", "OperationAborted",
    "XMinioServerNotInitialized", "XMinioReadQuorum", "XMinioWriteQuorum",
    "ConditionalRequestConflict",  # 409: another write of the key raced a create-only one
})
_AUTH_CODES = frozenset({
    "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken",
    "TokenRefreshRequired", "InvalidSecurity", "AuthorizationHeaderMalformed",
    "AuthorizationQueryParametersError", "MissingSecurityHeader",
})
_PERMISSION_CODES = frozenset({"AccessDenied", "AllAccessDisabled", "AccountProblem",
                               "NotSignedUp", "InvalidPayer"})
_REGION_CODES = frozenset({"PermanentRedirect", "IncorrectEndpoint", "Redirect",
                           "TemporaryRedirect"})
# The target refuses every write the same way: a setting of the run, not one object.
_SETTING_CODES = frozenset({"InvalidStorageClass"})
# Refused for this object alone, whatever the status: AWS answers a GET (or a copy) of an
# object in an archive tier with 403 InvalidObjectState, which no permission would change
# (Intelligent-Tiering's archive tiers are not told by a listing, only by this answer).
_OBJECT_CODES = frozenset({"InvalidObjectState"})

# The IAM permission each operation needs, for "permission denied" messages.
_PERMISSION = {"LIST": "s3:ListBucket", "HEAD": "s3:GetObject", "GET": "s3:GetObject",
               "GET_TAGGING": "s3:GetObjectTagging (or set MIRROR_COPY_TAGS=false)",
               "PUT": "s3:PutObject (and s3:PutObjectTagging for an object with tags)",
               "COPY": "s3:GetObject on the source and s3:PutObject",
               "MPU_CREATE": "s3:PutObject (and s3:PutObjectTagging for an object with tags)",
               "MPU_PART": "s3:PutObject",
               "MPU_PART_COPY": "s3:PutObject", "MPU_COMPLETE": "s3:PutObject",
               "MPU_ABORT": "s3:AbortMultipartUpload"}

_KIND_OF_CODE = {
    "NoSuchBucket": "bucket does not exist",
    "NoSuchKey": "object does not exist", "NotFound": "object does not exist",
    "PreconditionFailed": "object changed during the run",
    "BadDigest": "content does not match its checksum",
    "InvalidDigest": "content does not match its checksum",
    "InvalidStorageClass": "storage class refused (check the target alias's _STORAGE_CLASS)",
    "InvalidObjectState": "object is archived (restore it first)",
}
_FIELD = re.compile(
    rb"<(Code|Message|RequestId|Region|Endpoint|BucketName|ServerTime)>([^<]*)</")
# A signature dated too far from the server's clock. AWS, MinIO and SeaweedFS say
# RequestTimeTooSkewed; rclone's gofakes3 says AccessDenied with this message.
_SKEW_MESSAGE = re.compile(r"difference between the request time and the \S+ time", re.I)
# A plain-http request that reached a TLS port, as Go's servers (MinIO, SeaweedFS, rclone)
# and nginx answer it: the URL's scheme is wrong, not the endpoint.
_PLAIN_TO_TLS = re.compile(rb"HTTP request to an HTTPS server|plain HTTP request was sent "
                           rb"to HTTPS port", re.I)


class S3Error(Exception):
    """A response the server rejected, with the fields that explain it."""

    def __init__(self, status: int, code: str, message: str, *, operation: str,
                 bucket: str | None = None, key: str | None = None,
                 region_hint: str | None = None, request_id: str | None = None,
                 server_time: float | None = None, foreign: bool = False,
                 tls_port: bool = False) -> None:
        self.foreign = foreign  # a body that is no S3 error document (an HTML page)
        self.tls_port = tls_port  # the server said it speaks TLS there (http:// for https)
        self.status = status
        self.code = code
        self.message = message
        self.operation = operation
        self.bucket = bucket
        self.key = key
        self.region_hint = region_hint
        self.request_id = request_id
        self.server_time = server_time  # when the answer was given, by the server's clock
        self.skew = None if server_time is None else server_time - time.time()
        super().__init__(self.describe())

    @classmethod
    def from_response(cls, status: int, headers: dict[str, str], body: bytes, *,
                      operation: str, bucket: str | None, key: str | None) -> S3Error:
        fields = {name.decode(): unescape(value.decode("utf-8", "replace"))
                  for name, value in _FIELD.findall(body[:8192])}
        code = fields.get("Code") or _code_for_status(status)
        region = headers.get("x-amz-bucket-region") or fields.get("Region")
        return cls(status, code, fields.get("Message", ""), operation=operation, bucket=bucket,
                   key=key, region_hint=region,
                   request_id=headers.get("x-amz-request-id") or fields.get("RequestId"),
                   server_time=server_time(fields.get("ServerTime"), headers.get("date")),
                   foreign=_foreign(status, body, fields, operation),
                   tls_port=status == 400 and bool(_PLAIN_TO_TLS.search(body[:8192])))

    @property
    def skewed(self) -> bool:
        """Refused because this machine's clock is too far from the server's."""
        return self.code == "RequestTimeTooSkewed" or bool(_SKEW_MESSAGE.search(self.message))

    @property
    def severity(self) -> Severity:
        if self.skewed:  # signed again with the server's time, when it said what it is
            return Severity.RETRY
        if self.code == "NotImplemented" or self.status == 501:
            return Severity.OBJECT  # asking again gets the same answer
        if self.code in _OBJECT_CODES:
            return Severity.OBJECT
        if self.code in _RETRY_CODES or self.status >= 500 or self.status == 429:
            return Severity.RETRY
        if (self.code in _AUTH_CODES or self.code in _PERMISSION_CODES
                or self.code in _REGION_CODES or self.code in _SETTING_CODES
                or self.code == "NoSuchBucket"
                or self.status in (301, 307, 401, 403)):
            return Severity.PAIR
        return Severity.OBJECT

    @property
    def kind(self) -> str:
        """A short cause a person can act on, used in logs and the run summary."""
        if self.skewed:
            return "clock differs from the server's"
        if self.tls_port:
            return "the server speaks TLS there, and was sent plain http"
        if self.foreign and self.status < 500 and not self.region_hint:
            # a web server, a proxy's or a portal's page: something else answers at the URL
            return "not an S3 answer (is the URL the S3 endpoint? a proxy in the way?)"
        if self.code == "AuthorizationHeaderMalformed" and self.region_hint:
            return "wrong region or endpoint"  # AWS: signed for one region, bucket in another
        if self.code in _OBJECT_CODES:  # a 403, but no permission is missing
            return _KIND_OF_CODE[self.code]
        if self.code in _AUTH_CODES or self.status == 401:
            return "credentials rejected"
        if self.code in _PERMISSION_CODES or self.status == 403:
            return "permission denied"
        if self.code in _REGION_CODES or self.status in (301, 307):
            return "wrong region or endpoint"
        if self.code in _KIND_OF_CODE:
            return _KIND_OF_CODE[self.code]
        if self.status == 404:
            return "object does not exist"
        if self.status == 412:
            return "object changed during the run"
        if self.severity is Severity.RETRY:
            return "server busy or failing"
        return "request rejected"

    def describe(self, *, kind: bool = True) -> str:
        """The request, the cause and the server's answer; `kind=False` leaves the cause out,
        for a message that has just named it ("credentials rejected (LIST b: HTTP 403 ...)")."""
        what = f"{self.operation}"
        if self.bucket:
            what += f" {self.bucket}"
            if self.key is not None:
                what += f"/{self.key}"
        if kind:
            text = f"{what}: {self.kind} (HTTP {self.status} {self.code}"
            text += f": {self.message})" if self.message else ")"
        else:
            text = f"{what}: HTTP {self.status} {self.code}"
            text += f": {self.message}" if self.message else ""
        if self.region_hint and self.kind == "wrong region or endpoint":
            text += f"; the bucket is in region {self.region_hint}"
        if self.skewed:
            text += ("; this machine's clock is " + (
                f"{_duration(abs(self.skew))} {'behind' if self.skew > 0 else 'ahead of'} "
                "the server's" if self.skew is not None else "off") + ": set it right (NTP)")
        if self.kind == "permission denied" and self.operation in _PERMISSION:
            text += f"; the credentials need {_PERMISSION[self.operation]}"
        return text


def _foreign(status: int, body: bytes, fields: dict[str, str], operation: str) -> bool:
    """An answer that is no S3 error document: a page without an S3 <Code>, or a bare 404
    to a LIST (S3 stores answer a missing bucket with NoSuchBucket). An egress gateway or a
    reverse proxy with no route answers an empty 404, which is no "object does not exist"
    of a LIST. An object's bare 404 (a HEAD's never has a body) stays a missing object."""
    if body.strip():
        return "Code" not in fields
    return status == 404 and operation == "LIST"


def server_time(iso: str | None, date_header: str | None) -> float | None:
    """The server's clock when it answered: S3's <ServerTime>, else the Date header; a
    time without a zone is GMT, as HTTP's are (never this machine's local time)."""
    try:
        if iso:
            moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
        elif date_header:
            moment = parsedate_to_datetime(date_header)
        else:
            return None
    except (ValueError, TypeError, IndexError):
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


def _code_for_status(status: int) -> str:
    return {301: "PermanentRedirect", 307: "TemporaryRedirect", 400: "BadRequest",
            401: "Unauthorized", 403: "AccessDenied", 404: "NotFound",
            409: "Conflict", 412: "PreconditionFailed", 429: "TooManyRequests",
            500: "InternalError", 501: "NotImplemented", 503: "ServiceUnavailable",
            }.get(status, f"HTTP{status}")
