"""Configuration: what the environment means, and every bad input refused before any request."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from conftest import base_env, run_mirror

from mirror.cli import settings_from
from mirror.providers import ListingOrder
from mirror.settings import ConfigError, load_settings


class Listener:
    """A TCP port that counts connections: proof that a run made no request at all."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


def _env(listener: Listener, **overrides: str) -> dict[str, str]:
    env = base_env()
    env.update({"MINIO_URL": listener.url, "MINIO_ACCESS_KEY": "minio-key",
                "MINIO_SECRET_KEY": "minio-secret-value", "AWS_URL": listener.url,
                "AWS_ACCESS_KEY": "aws-key", "AWS_SECRET_KEY": "aws-secret-value",
                "BUCKET_PAIR": "minio/src:aws/dst"})
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


BAD_INPUTS = [
    # one typo from a setting: ignored, the run would have written instead of previewing
    ({"MIRROR_DRYRUN": "true"}, "MIRROR_DRYRUN is not a setting of the mirror: did you mean "
     "MIRROR_DRY_RUN? (as written, it would be ignored)"),
    ({"MIRROR_WORKERS": "8"}, "did you mean MIRROR_MAX_WORKERS?"),
    ({"MIRROR_EXCLUDES": "*.tmp"}, "did you mean MIRROR_EXCLUDE?"),
    ({"BUCKET_PAIRSS": "minio/a:aws/b"}, "did you mean BUCKET_PAIRS?"),
    # the right name in the wrong case is as ignored as a typo: the preview wrote
    ({"mirror_dry_run": "true"}, "mirror_dry_run is not a setting of the mirror: did you mean "
     "MIRROR_DRY_RUN? (as written, it would be ignored)"),
    ({"Mirror_Exclude": "*.tmp"}, "Mirror_Exclude is not a setting of the mirror: did you "
     "mean MIRROR_EXCLUDE?"),
    ({"mirror_dryrun": "true"}, "did you mean MIRROR_DRY_RUN?"),
    ({"BUCKET_PAIR": ""}, "no bucket pair: set BUCKET_PAIR"),
    ({"BUCKET_PAIR": "minio/src-aws/dst"}, "BUCKET_PAIR pair 'minio/src-aws/dst' must be "
                                           "source:target"),
    ({"BUCKET_PAIR": "minio/src:aws/dst:extra"}, "(exactly one ':')"),
    ({"BUCKET_PAIR": "minio:aws/dst"}, "the source 'minio' must be alias/bucket"),
    ({"BUCKET_PAIR": "mi-nio/src:aws/dst"}, "alias 'mi-nio' must start with a letter"),
    ({"BUCKET_PAIR": "minio/bad bucket:aws/dst"}, "bucket 'bad bucket' may only use"),
    # each object failed on its own (400 from MinIO and rclone), the run ending in exit 1
    ({"BUCKET_PAIR": "minio/src:aws/dst/x/../y"}, "BUCKET_PAIR pair 'minio/src:aws/dst/x/../y': "
     "the target folder 'x/../y' has a '.' or '..' segment"),
    ({"BUCKET_PAIR": "minio/src/./a:aws/dst"}, "the source folder './a' has a '.' or '..'"),
    ({"BUCKET_PAIR": "minio/..:aws/dst"}, "bucket '..' may only use letters, digits, '.', '-' "
                                          "and '_', and not dots alone"),
    ({"BUCKET_PAIR": "r2/src:aws/dst"}, "R2_URL is not set; pair 'r2/src:aws/dst' uses the "
                                        "alias 'r2'"),
    ({"BUCKET_PAIRS": "minio/a:aws/b"}, "set BUCKET_PAIR or BUCKET_PAIRS, not both"),
    ({"MINIO_URL": None}, "MINIO_URL is not set"),
    ({"AWS_URL": None}, "AWS_URL is not set; pair 'minio/src:aws/dst' uses the alias 'aws'; "
                        "for AWS S3, AWS_REGION alone also gives it"),
    ({"MINIO_URL": "minio:9000"}, "MINIO_URL must look like http(s)://host[:port], got "
                                  "'minio:9000' (is the http:// or https:// missing?)"),
    ({"MINIO_URL": "http://minio:9000/bucket"}, "MINIO_URL must be only the endpoint"),
    ({"MINIO_URL": "http://minio:port"}, "MINIO_URL has an invalid port"),
    # port 0 was taken for "none given": the run went to port 80
    ({"MINIO_URL": "http://minio:0"}, "MINIO_URL has an invalid port: 'http://minio:0'"),
    ({"MIRROR_PUSHGATEWAY_URL": "http://pushgateway:0"},
     "MIRROR_PUSHGATEWAY_URL has an invalid port"),
    ({"HTTP_PROXY": "http://proxy:0"}, "HTTP_PROXY has an invalid port"),
    ({"MINIO_SECRET_KEY": None}, "MINIO_SECRET_KEY is not set; the alias 'minio' needs both"),
    ({"MINIO_PROVIDER": "azure"}, "MINIO_PROVIDER must be one of"),
    ({"MIRROR_DRY_RUN": "maybe"}, "MIRROR_DRY_RUN must be true or false, got 'maybe'"),
    ({"MIRROR_SKIP_ERRORS": "2"}, "MIRROR_SKIP_ERRORS must be true or false, got '2'"),
    ({"MIRROR_OVERWRITE": "yess"}, "MIRROR_OVERWRITE must be true or false"),
    ({"MIRROR_DEBUG": "verbose"}, "MIRROR_DEBUG must be true or false"),
    ({"MIRROR_MAX_WORKERS": "0"}, "MIRROR_MAX_WORKERS must be 'auto' or a whole number"),
    ({"MIRROR_MAX_WORKERS": "ten"}, "MIRROR_MAX_WORKERS must be 'auto' or a whole number"),
    ({"MIRROR_LARGE_TRANSFERS": "0"}, "MIRROR_LARGE_TRANSFERS must be a whole number from 1"),
    ({"MIRROR_PART_SIZE": "1MiB"}, "MIRROR_PART_SIZE must be between 5MiB and 5GiB"),
    ({"MIRROR_PART_SIZE": "big"}, "MIRROR_PART_SIZE must be a size such as 16MiB"),
    ({"MIRROR_EXCLUDE": "*.tmp,[abc"}, "MIRROR_EXCLUDE has an invalid pattern '[abc': '[' "
                                       "without a closing ']'"),
    ({"MIRROR_EXCLUDE": "*[\\]*"}, "escapes inside a class too"),  # a backslash: [\\\\]
    ({"MIRROR_EXCLUDE": "*.{tmp,log}"}, "MIRROR_EXCLUDE has an invalid pattern '{tmp,log}': "
                                        "{a,b} alternatives are not supported"),
    ({"BUCKET_PAIR": "minio/src:minio/src/copy"}, "the target overlaps the source"),
    ({"SLACK_BOT_TOKEN": "xoxb-secret-token"}, "SLACK_CHANNEL_ID is not set; Slack needs both"),
    ({"SLACK_CHANNEL_ID": "C123"}, "SLACK_BOT_TOKEN is not set"),
    ({"SLACK_BOT_TOKEN": "xoxb-secret-token\nX-Evil: 1", "SLACK_CHANNEL_ID": "C1"},
     "SLACK_BOT_TOKEN contains a control character"),
    ({"MINIO_SECRET_KEY": "secret-value\x1b[2J"}, "MINIO_SECRET_KEY contains a control character"),
    ({"MINIO_ACCESS_KEY": "key\u2028x"}, "MINIO_ACCESS_KEY contains a control character, a line "
                                          "break or (sent in a header) a character outside"),
    ({"MINIO_URL": "http://minio:secret-value@minio:9000"},
     "MINIO_URL must not carry credentials (user:password@), got 'http://***@minio:9000'"),
    ({"MIRROR_MAX_WORKERS": "\u00b2"}, "MIRROR_MAX_WORKERS must be 'auto' or a whole number"),
    ({"MIRROR_LOG_FORMAT": "jsnn"}, "MIRROR_LOG_FORMAT must be one of json, console, auto"),
    ({"AWS_URL": "http://storage.example.com", "AWS_PRICE_CLASS_A": "0.005"},
     "AWS_PRICE_CLASS_B is not set; the alias 'aws' has no price table to take it from"),
    ({"MINIO_CA_FILE": "/nonexistent/ca.pem"},
     "MINIO_CA_FILE names a file that does not exist: '/nonexistent/ca.pem'"),
    ({"MINIO_CA_FILE": "/"}, "MINIO_CA_FILE is a directory, not a PEM file: '/'"),
    ({"MINIO_CA_FILE": __file__}, "MINIO_CA_FILE is not a PEM file of CA certificates"),
    ({"AWS_STORAGE_CLASS": "glacier ir"},
     "AWS_STORAGE_CLASS must be a storage class name such as STANDARD_IA, GLACIER_IR or "
     "DEEP_ARCHIVE (letters, digits, '_'), got 'GLACIER IR'"),
    ({"MIRROR_BANDWIDTH_LIMIT": "fast"},
     "MIRROR_BANDWIDTH_LIMIT must be bytes per second such as 20MiB/s or 500KiB/s"),
    ({"MIRROR_BANDWIDTH_LIMIT": "100Mb/s"},
     "MIRROR_BANDWIDTH_LIMIT '100Mb/s' reads as bits per second (a lower-case b)"),
    # Mib is the IEC symbol of a mebibit: 100 of them are 12.5 MB/s, not 100 MiB/s
    ({"MIRROR_BANDWIDTH_LIMIT": "100Mib/s"},
     "MIRROR_BANDWIDTH_LIMIT '100Mib/s' reads as bits per second (a lower-case b)"),
    ({"MIRROR_BANDWIDTH_LIMIT": "800kb"},
     "MIRROR_BANDWIDTH_LIMIT '800kb' reads as bits per second"),
    ({"MIRROR_BANDWIDTH_LIMIT": "100"},
     "MIRROR_BANDWIDTH_LIMIT must be at least 64KiB/s (bytes, not bits), or 0 for no cap"),
    # numbers of any length: int() refuses more than 4,300 digits (a traceback, exit 1), and
    # a rate beyond a float's range crashed the run's first log line
    ({"MIRROR_PART_SIZE": "9" * 5000}, "MIRROR_PART_SIZE must be between 5MiB and 5GiB"),
    ({"MIRROR_MULTIPART_THRESHOLD": "9" * 5000 + "MiB"},
     "MIRROR_MULTIPART_THRESHOLD must be between 5MiB and 5GiB"),
    ({"MIRROR_BANDWIDTH_LIMIT": "9" * 5000},
     "MIRROR_BANDWIDTH_LIMIT must be at most 1048576GiB/s"),
    ({"MIRROR_BANDWIDTH_LIMIT": "9" * 400 + "MiB/s"},
     "MIRROR_BANDWIDTH_LIMIT must be at most 1048576GiB/s"),
    ({"MIRROR_TIMEZONE": "Mars/Olympus"}, "MIRROR_TIMEZONE must be an IANA time zone"),
    ({"MIRROR_TIMEZONE": "US"}, "MIRROR_TIMEZONE must be an IANA time zone"),  # a tzdata folder
    ({"MIRROR_PUSHGATEWAY_URL": "pushgateway://mirror:secret-value@host:9091"},
     "MIRROR_PUSHGATEWAY_URL must look like http(s)://host[:port][/path], got "
     "'pushgateway://***@host:9091'"),
    # a password with a character that cuts the URL short: named, and no piece of it shown
    ({"MIRROR_PUSHGATEWAY_URL": "http://mirror:secret-value/x@127.0.0.1:9091"},
     "MIRROR_PUSHGATEWAY_URL has an invalid port; in user:password, percent-encode / ? # [ ] @ "
     "as %2F %3F %23 %5B %5D %40: 'http://***@127.0.0.1:9091'"),
    ({"MIRROR_PUSHGATEWAY_URL": "http://mirror:1234#secret-value@127.0.0.1:9091"},
     "MIRROR_PUSHGATEWAY_URL has an @ outside its host part"),
    ({"MIRROR_PUSHGATEWAY_URL": "mirror:secret-value@pushgateway:9091"},
     "got '***@pushgateway:9091' (is the http:// or https:// missing?)"),
    ({"SLACK_API_URL": "http://slack:abc/api/"}, "SLACK_API_URL has an invalid port"),
    ({"SLACK_API_URL": "https://bot:secret-value@slack.example.com/api/"},
     "SLACK_API_URL must not carry credentials (user:password@), got "
     "'https://***@slack.example.com/api/'"),
    ({"MINIO_URL": "http://[::1"}, "MINIO_URL is not a valid URL ([ and ] may only enclose"),
    ({"MINIO_URL": "http://mi nio:9000"}, "MINIO_URL must not contain spaces"),
    # a host outside Latin-1 crashed the pair (UnicodeEncodeError, a traceback); one inside
    # it was looked up and sent as is, never as IDNA
    ({"MINIO_URL": "http://\u043cinio.example:9000"},
     "write an internationalized name in its xn-- form (xn--inio-u5d.example)"),
    ({"MINIO_URL": "http://m\u00ednio:9000"}, "MINIO_URL has a host name with characters outside"),
    ({"MIRROR_PREFIX": "{now-99999999d:%Y}"}, "MIRROR_PREFIX has a bad date template: "
     "{now-99999999d:%Y}: the offset goes beyond the calendar"),
    ({"MIRROR_PREFIX": "{today:%}"}, "the format ends with a lone %"),
    # the original's recipe, copied into a CronJob's env or an --env-file where no shell runs
    # it: the prefix was the command's text, which matched no key, and every night's run
    # copied nothing and said "success"
    ({"MIRROR_PREFIX": "$(date -d 'yesterday' +%Y/%m/%d)"},
     "MIRROR_PREFIX has a shell command in "),
    ({"MIRROR_PREFIX": "${DAY}/"}, "which nothing runs here (a CronJob's env, an --env-file, "
     "Helm values pass it as written)"),
    ({"MIRROR_PREFIX": "2025/,`date +%Y`/"}, "use a date template such as {yesterday:%Y/%m/%d}/"),
    # another tool's date format: rendered as written, the same prefix every night, which
    # matched no key, and every run copied nothing and said "success"
    ({"MIRROR_PREFIX": "{yesterday:YYYY/MM/DD}/"}, "MIRROR_PREFIX has a bad date template: "
     "{yesterday:YYYY/MM/DD}: the format has no % directive, so it names no date"),
    # several on separate lines (a YAML block) were one entry, matching nothing: a run that
    # copied nothing, or excluded nothing, and said nothing
    ({"MIRROR_PREFIX": "2025/01/21/\n2025/01/22/"},
     "MIRROR_PREFIX has a line break or a control character in '2025/01/21/"),
    ({"MIRROR_EXCLUDE": "*.tmp\n*.log"},
     "log': a line break or a control character; separate several patterns with ','"),
    ({"MINIO_REGION": "us east 1"}, "MINIO_REGION must be a region name such as eu-west-1"),
    ({"NO_PROXY": ".svc,10.0.0.0/99"}, "NO_PROXY has '10.0.0.0/99', which is not a CIDR range"),
    ({"NO_PROXY": "10.0.0.0/8:9000,10.0.0.0/99:9000"},
     "NO_PROXY has '10.0.0.0/99:9000', which is not a CIDR range"),
    # entries that can match no host were ignored without a word, as a bad range would be:
    # the in-cluster store then went through the proxy
    ({"NO_PROXY": "*.svc.cluster.local,10.0.0.0/8"},
     "NO_PROXY has '*.svc.cluster.local', a wildcard, which matches no host: a domain and its "
     "subdomains are written with a leading dot, such as .svc"),
    ({"no_proxy": "minio:port"}, "no_proxy has 'minio:port', whose port is not a number from 1"),
    ({"NO_PROXY": "[::1]:99999"}, "NO_PROXY has '[::1]:99999', whose port is not a number"),
    ({"BUCKET_PAIR": "minio/a:aws/b,minio/c:aws/d"},
     "several pairs are separated by ';', not ','"),
    ({"BUCKET_PAIR": "s3://a:s3://b"}, "a pair names alias/bucket, not a URL"),
    ({"BUCKET_PAIR": "minio/a:slack_api/b"}, "SLACK_API_URL is the run's own setting, yet pair "
     "'minio/a:slack_api/b' uses the alias 'slack_api', whose variables would include it"),
    ({"BUCKET_PAIR": "mirror_pushgateway/a:aws/b"}, "MIRROR_PUSHGATEWAY_URL is the run's own"),
    # a virtual-hosted URL: its bucket would be addressed, and the pair's bucket with a dot
    # written into it as a folder
    ({"AWS_URL": "https://photos.s3.eu-west-1.amazonaws.com"},
     "AWS_URL names the bucket 'photos' in its host (a virtual-hosted URL), got "
     "'https://photos.s3.eu-west-1.amazonaws.com': give the store's endpoint, "
     "https://s3.eu-west-1.amazonaws.com, and the bucket in the pair"),
    ({"AWS_URL": "https://photos.0123abcd.eu.r2.cloudflarestorage.com"},
     "give the store's endpoint, https://0123abcd.eu.r2.cloudflarestorage.com,"),
    ({"BUCKET_PAIR": "minio/a/2025-01-01T00:00:aws/b"},
     "if a folder's name has a ':', keep the pair at the bucket and give the folder in "
     "MIRROR_PREFIX"),
]


@pytest.mark.parametrize(("overrides", "message"), BAD_INPUTS,
                         ids=[m[:40] for _, m in BAD_INPUTS])
def test_bad_input_exits_2_with_one_clear_line_and_no_request(
        listener: Listener, overrides: dict[str, str], message: str) -> None:
    """Each bad input ends the run with exit 2, a line naming it, and no connection made."""
    if "BUCKET_PAIRS" in overrides:
        overrides = {**overrides, "BUCKET_PAIR": "minio/src:aws/dst"}
    run = run_mirror(_env(listener, **overrides))

    assert run.code == 2
    assert message in run.stderr
    assert "Traceback" not in run.stderr
    assert [e["event"] for e in run.events] == ["config.invalid"] * len(run.events)
    assert any(message in e["error"] for e in run.events)
    assert "secret-value" not in run.stderr + run.stdout
    assert "xoxb-secret-token" not in run.stderr + run.stdout
    assert listener.connections == 0


def test_an_alias_broken_on_both_sides_of_a_pair_is_reported_once(listener: Listener) -> None:
    run = run_mirror(_env(listener, BUCKET_PAIR="minio/a:minio/b", MINIO_URL="minio:9000"))

    assert run.code == 2
    assert run.stderr.count("MINIO_URL must look like") == 1



def test_a_configuration_error_carries_the_service_like_every_line(listener: Listener) -> None:
    """The CronJobs of several services share a log pipeline: exit-2 lines say whose."""
    run = run_mirror(_env(listener, SERVICE="photos", MIRROR_OVERWRITE="x"))

    assert run.code == 2
    assert [(e["event"], e["service"]) for e in run.events] == [("config.invalid", "photos")]

def test_the_service_flag_names_the_configuration_errors_too(listener: Listener) -> None:
    """--service overrides SERVICE for the exit-2 lines as for a run's: they say whose."""
    run = run_mirror(_env(listener, SERVICE="from-env", MIRROR_OVERWRITE="x"),
                     "--service", "photos")

    assert run.code == 2
    assert [(e["event"], e["service"]) for e in run.events] == [("config.invalid", "photos")]


@pytest.mark.parametrize(("args", "message"), [
    (["--dryrun"], "unrecognized arguments: --dryrun"),
    (["--max-workers"], "argument --max-workers: expected one argument"),
])
def test_a_command_line_mistake_is_a_configuration_error_like_a_bad_variable(
        listener: Listener, args: list[str], message: str) -> None:
    """A CronJob's args with a typo: one config.invalid event a log pipeline can alert on,
    with its service, exit 2 and no request; not a usage text in plain lines."""
    run = run_mirror(_env(listener, SERVICE="photos"), *args)

    assert run.code == 2
    assert [(e["event"], e["level"], e["service"]) for e in run.events] == [
        ("config.invalid", "error", "photos")]
    assert message in run.events[0]["error"]
    assert all(line.startswith("{") for line in run.stderr.splitlines())
    assert listener.connections == 0


def test_all_problems_are_reported_at_once(listener: Listener) -> None:
    """Several mistakes are listed together, one line each, so one fix round is enough."""
    run = run_mirror(_env(listener, MIRROR_DRY_RUN="maybe", MIRROR_MAX_WORKERS="-1",
                          AWS_URL="s3.amazonaws.com"))

    assert run.code == 2
    problems = [e["error"] for e in run.named("config.invalid")]
    assert len(problems) == 3
    assert len(run.stderr.splitlines()) == 3


def test_a_terminal_gets_the_problems_as_plain_lines(listener: Listener) -> None:
    """MIRROR_LOG_FORMAT=console (or a terminal): one readable line per problem, no JSON."""
    run = run_mirror({**_env(listener, MIRROR_DRY_RUN="maybe"), "MIRROR_LOG_FORMAT": "console"})

    assert run.code == 2
    assert run.stderr == ("minio-s3-mirror: configuration error: MIRROR_DRY_RUN must be true or "
                          "false, got 'maybe'\n")


def test_flags_are_named_in_errors_and_override_the_environment(listener: Listener) -> None:
    """A bad flag is reported by its name; a flag beats the variable it stands for."""
    run = run_mirror(_env(listener), "--max-workers", "0")

    assert run.code == 2
    assert "--max-workers (MIRROR_MAX_WORKERS) must be 'auto' or a whole number" in run.stderr
    empty = run_mirror(_env(listener), "--pair", "")
    assert empty.code == 2
    assert "--pair (BUCKET_PAIRS) is empty: give a pair such as" in empty.stderr
    assert listener.connections == 0


def test_a_preview_stops_at_a_bad_variable_its_flag_overrides(listener: Listener) -> None:
    """`--dry-run` over the CronJob's own environment is how a change is previewed: a bad
    value its flags override must stop it, as it will stop the scheduled run without them,
    not pass as all good."""
    run = run_mirror(_env(listener, MIRROR_MAX_WORKERS="0", MIRROR_DRY_RUN="maybe"),
                     "--dry-run", "--max-workers", "4")

    assert run.code == 2
    assert sorted(e["error"] for e in run.named("config.invalid")) == [
        "configuration error: MIRROR_DRY_RUN must be true or false, got 'maybe' (in the "
        "environment; --dry-run overrides it here, but a run without the flag would stop)",
        "configuration error: MIRROR_MAX_WORKERS must be 'auto' or a whole number from 1 to "
        "512, got '0' (in the environment; --max-workers overrides it here, but a run "
        "without the flag would stop)"]
    assert listener.connections == 0
    valid = run_mirror(_env(listener, MIRROR_DRY_RUN="false"), "--dry-run")
    assert not valid.named("config.invalid")


def test_prefix_and_exclude_flags_repeat_like_rclones() -> None:
    """`--exclude '*.tmp' --exclude '*.log'` excludes both, as rclone and mc read it; the
    last one alone would copy every *.tmp without a word."""
    env = {"BUCKET_PAIR": "minio/src:aws/dst", "MINIO_URL": "http://127.0.0.1:9",
           "MINIO_ACCESS_KEY": "a", "MINIO_SECRET_KEY": "b", "AWS_URL": "http://127.0.0.1:9",
           "AWS_ACCESS_KEY": "a", "AWS_SECRET_KEY": "b"}
    settings = settings_from(["--exclude", "*.tmp", "--exclude", "*.log,.DS_Store",
                              "--prefix", "2025/01/20/", "--prefix", "2025/01/21/"], env)

    assert settings.exclude.patterns == ("*.tmp", "*.log", ".DS_Store")
    assert settings.prefixes == ("2025/01/20/", "2025/01/21/")


def test_help_explains_every_setting() -> None:
    """--help lists each environment variable with what it means."""
    run = run_mirror(base_env(), "--help")

    assert run.code == 0
    for name in ("BUCKET_PAIR", "BUCKET_PAIRS", "MINIO_URL", "AWS_SECRET_KEY", "MIRROR_PREFIX",
                 "MIRROR_EXCLUDE", "MIRROR_DRY_RUN", "MIRROR_SKIP_ERRORS", "MIRROR_MAX_WORKERS",
                 "MIRROR_LARGE_TRANSFERS", "MIRROR_DEBUG", "MIRROR_OVERWRITE", "SLACK_BOT_TOKEN",
                 "SLACK_CHANNEL_ID", "SERVICE", "<ALIAS>_URL", "<ALIAS>_REGION"):
        assert name in run.stdout
    # <ALIAS>_REGION's default, as the README gives it (the help wraps its lines)
    assert "from the endpoint host, auto for R2, else us-east-1" in " ".join(run.stdout.split())
    assert "exit codes" in run.stdout


# -- what valid settings mean ------------------------------------------------------------

def _load(**env: str) -> object:
    return load_settings({"MINIO_URL": "http://minio:9000", "MINIO_ACCESS_KEY": "k",
                          "MINIO_SECRET_KEY": "s", **env})


def test_aliases_resolve_region_and_provider_from_the_endpoint() -> None:
    """AWS endpoints give their region and virtual-host addressing; R2 signs as 'auto'."""
    settings = load_settings({
        "BUCKET_PAIRS": "minio/a:aws/b; minio/c:r2/d ;minio/e:vultr/f",
        "MINIO_URL": "http://minio.minio.svc.cluster.local:9000", "MINIO_ACCESS_KEY": "k",
        "MINIO_SECRET_KEY": "s", "AWS_URL": "https://s3.ap-northeast-2.amazonaws.com",
        "AWS_ACCESS_KEY": "ak", "AWS_SECRET_KEY": "as",
        "R2_URL": "https://abc123.r2.cloudflarestorage.com", "R2_ACCESS_KEY": "rk",
        "R2_SECRET_KEY": "rs", "VULTR_URL": "https://ewr1.vultrobjects.com",
        "VULTR_ACCESS_KEY": "vk", "VULTR_SECRET_KEY": "vs", "VULTR_REGION": "custom-1"})

    aws, r2, vultr, minio = (settings.aliases[n] for n in ("aws", "r2", "vultr", "minio"))
    assert (aws.region, aws.provider.name, aws.provider.virtual_host) == (
        "ap-northeast-2", "aws", True)
    assert (r2.region, r2.provider.name) == ("auto", "r2")
    assert (vultr.region, vultr.provider.name) == ("custom-1", "vultr")
    assert (minio.region, minio.provider.name, minio.provider.virtual_host) == (
        "us-east-1", "generic", False)
    assert [str(p) for p in settings.pairs] == ["minio/a:aws/b", "minio/c:r2/d", "minio/e:vultr/f"]


def test_aws_alias_without_keys_uses_the_standard_credential_chain() -> None:
    """With no AWS_ACCESS_KEY/AWS_SECRET_KEY, the aws alias falls back to IRSA and friends."""
    settings = load_settings({"BUCKET_PAIR": "minio/a:aws/b", "MINIO_URL": "http://m:9000",
                              "MINIO_ACCESS_KEY": "k", "MINIO_SECRET_KEY": "s",
                              "AWS_REGION": "eu-west-1"})
    aws = settings.aliases["aws"]
    assert aws.credential_chain
    assert aws.url == "https://s3.eu-west-1.amazonaws.com"
    assert aws.region == "eu-west-1"


def test_only_the_aliases_named_by_pairs_are_required() -> None:
    """A pair between two MinIO buckets needs no AWS settings at all."""
    settings = _load(BUCKET_PAIR="minio/a:minio/b")
    assert set(settings.aliases) == {"minio"}  # type: ignore[attr-defined]


@pytest.mark.parametrize("alias", ["mirror_dr", "slack", "slack_archive"])
def test_the_variables_of_an_alias_are_no_misspelled_setting(alias: str) -> None:
    """An alias whose variables begin like the run's own (MIRROR_DR_URL is one typo from
    MIRROR_DRY_RUN, SLACK_URL from SLACK_API_URL) is a valid configuration."""
    env = alias.upper()
    settings = _load(BUCKET_PAIR=f"minio/a:{alias}/b", **{
        f"{env}_URL": "http://127.0.0.1:9000", f"{env}_REGION": "us-east-1",
        f"{env}_ACCESS_KEY": "k", f"{env}_SECRET_KEY": "s"})
    assert set(settings.aliases) == {"minio", alias}  # type: ignore[attr-defined]


def test_pair_folders_and_prefixes_are_normalised() -> None:
    """Pair prefixes are folders; MIRROR_PREFIX entries nested in others are dropped."""
    settings = _load(BUCKET_PAIR=" minio/a/data/exports/ : minio/b/backup ",
                     MIRROR_PREFIX="2025/01, /2025/01/22, 2024/")
    pair = settings.pairs[0]  # type: ignore[attr-defined]
    assert (pair.source.prefix, pair.target.prefix) == ("data/exports/", "backup/")
    assert settings.prefixes == ("2024/", "2025/01")  # type: ignore[attr-defined]


def test_overlapping_targets_of_two_pairs_are_refused() -> None:
    """Two pairs writing into the same target folder would race: refused."""
    with pytest.raises(ConfigError, match="write to overlapping targets"):
        _load(BUCKET_PAIRS="minio/a:minio/backup;minio/b:minio/backup/b")
    _load(BUCKET_PAIRS="minio/a:minio/backup/a;minio/b:minio/backup/b")



@pytest.mark.parametrize(("minio_url", "other_url"), [
    ("http://127.0.0.1:9000", "http://LOCALHOST:9000"),
    # the same loopback server under other spellings of its address, each of which
    # reaches it (a run with them mirrored a bucket into itself, copy/copy/... growing)
    ("http://127.0.0.1:9000", "http://0.0.0.0:9000"),
    ("http://127.0.0.1:9000", "http://127.1:9000"),
    ("http://localhost:9000", "http://[::ffff:127.0.0.1]:9000"),
    ("http://[::1]:9000", "http://[0:0:0:0:0:0:0:1]:9000"),
    ("http://10.0.0.5:9000", "http://10.0.5:9000"),
    ("http://minio.example:80", "http://Minio.Example."),
    ("https://s3.ap-northeast-2.amazonaws.com", "https://s3.us-east-1.amazonaws.com"),
])
def test_a_target_in_the_source_is_refused_however_its_endpoint_is_written(
        minio_url: str, other_url: str) -> None:
    """One server under two spellings of its URL (case, default port, a loopback name), or
    two AWS regions (bucket names are global): still a mirror into itself, refused."""
    env = {"MINIO_URL": minio_url, "MINIO_ACCESS_KEY": "k", "MINIO_SECRET_KEY": "s",
           "OTHER_URL": other_url, "OTHER_ACCESS_KEY": "k", "OTHER_SECRET_KEY": "s"}
    with pytest.raises(ConfigError, match="the target overlaps the source"):
        load_settings({**env, "BUCKET_PAIR": "minio/src:other/src/copy"})
    load_settings({**env, "BUCKET_PAIR": "minio/src:other/dst"})  # another bucket: fine
    load_settings({**env, "OTHER_URL": "http://127.0.0.1:9001",  # another server: fine
                   "BUCKET_PAIR": "minio/src:other/src/copy"})


@pytest.mark.parametrize(("minio_url", "other_url"), [
    # a MinIO behind an EKS load balancer, mirrored to S3 in the same region
    ("http://a1b2c3-123456.us-east-1.elb.amazonaws.com:9000", "https://s3.us-east-1.amazonaws.com"),
    ("http://ec2-3-91-10-1.compute-1.amazonaws.com:9000",  # two MinIOs on EC2
     "http://ec2-54-2-20-7.compute-1.amazonaws.com:9000"),
    ("https://s3.us-east-1.amazonaws.com", "https://s3.us-gov-west-1.amazonaws.com"),
    ("https://s3-proxy-1.us-east-1.elb.amazonaws.com",  # load balancers named s3-...
     "https://s3-proxy-2.eu-west-1.elb.amazonaws.com"),
    # two servers on two loopback addresses, each listening on one (not 127.0.0.0/8 as one)
    ("http://127.0.0.1:9000", "http://127.0.0.2:9000"),
    ("http://localhost:9000", "http://127.0.0.3:9000"),
])
def test_buckets_of_one_name_on_two_stores_are_no_overlap(minio_url: str, other_url: str) -> None:
    """Only AWS S3's own endpoints share one bucket namespace (per partition); any other
    host under amazonaws.com is a server of its own."""
    load_settings({"MINIO_URL": minio_url, "MINIO_ACCESS_KEY": "k", "MINIO_SECRET_KEY": "s",
                   "OTHER_URL": other_url, "OTHER_ACCESS_KEY": "k", "OTHER_SECRET_KEY": "s",
                   "BUCKET_PAIR": "minio/backups:other/backups"})


@pytest.mark.parametrize("url", [
    "https://s3.eu-west-1.amazonaws.com", "https://s3-fips.dualstack.us-east-2.amazonaws.com",
    "https://bucket.vpce-1a2b3c4d-5e6f.s3.us-east-1.vpce.amazonaws.com",  # its own name
    "https://s3-proxy-1.us-east-1.elb.amazonaws.com", "https://abc123.eu.r2.cloudflarestorage.com",
    "https://s3.us-west-004.backblazeb2.com", "https://ewr1.vultrobjects.com",
    "https://s3.wasabisys.com", "https://nyc3.digitaloceanspaces.com",
])
def test_an_endpoint_host_is_no_virtual_hosted_bucket(url: str) -> None:
    settings = _load(BUCKET_PAIR="minio/a:s/b", S_URL=url, S_ACCESS_KEY="k", S_SECRET_KEY="s")
    assert settings.aliases["s"].url == url  # type: ignore[attr-defined]


def test_no_secret_shows_in_the_repr_of_the_settings() -> None:
    """A repr (a debugger, a traceback's locals, an f-string) shows no secret."""
    settings = _load(BUCKET_PAIR="minio/a:aws/b", MINIO_SECRET_KEY="minio-secret-value",
                     MINIO_SESSION_TOKEN="minio-session-token", AWS_URL="https://s3.amazonaws.com",
                     AWS_ACCESS_KEY="k", AWS_SECRET_KEY="aws-secret-value",
                     HTTPS_PROXY="http://u:proxy-password@proxy:3128",
                     SLACK_BOT_TOKEN="xoxb-slack-token", SLACK_CHANNEL_ID="C1",
                     MIRROR_PUSHGATEWAY_URL="https://mirror:pushgateway-password@pg:9091")
    shown = repr(settings)
    for secret in settings.secrets():  # type: ignore[attr-defined]
        assert secret not in shown
    assert "pushgateway-password" not in shown


def test_seaweedfs_provider_lists_folders_first() -> None:
    """The provider table carries listing order as data."""
    settings = _load(BUCKET_PAIR="minio/a:minio/b", MINIO_PROVIDER="SeaweedFS")
    alias = settings.aliases["minio"]  # type: ignore[attr-defined]
    assert alias.provider.listing_order is ListingOrder.FOLDERS_FIRST


def test_a_cidr_range_with_a_port_is_a_valid_no_proxy_entry() -> None:
    """NO_PROXY=10.0.0.0/8:9000 (a range, one port), as the proxy rules read it."""
    env = {"MINIO_URL": "http://minio:9000", "MINIO_ACCESS_KEY": "k", "MINIO_SECRET_KEY": "s",
           "BUCKET_PAIR": "minio/a:minio/b", "NO_PROXY": "10.0.0.0/8:9000,[fd00::/8]:9000"}
    assert load_settings(env).aliases["minio"].url == "http://minio:9000"


@pytest.mark.parametrize("name", ["MIRROR_EXCLUDE", "BUCKET_PAIR", "AWS_SECRET_KEY"])
def test_a_value_wrapped_in_quotes_is_refused_without_showing_it(
        listener: Listener, name: str) -> None:
    """`docker run --env-file` keeps quotes: "*.tmp,.DS_Store" would match nothing and copy
    every *.tmp without a word, a quoted key would only be "credentials rejected"."""
    value = {"MIRROR_EXCLUDE": "*.tmp,.DS_Store", "BUCKET_PAIR": "minio/src:aws/dst",
             "AWS_SECRET_KEY": "secret-value"}[name]
    run = run_mirror(_env(listener, **{name: f'"{value}"'}))

    assert run.code == 2
    assert f"{name} is wrapped in quotes, which a docker --env-file keeps" in run.stderr
    assert "secret-value" not in run.stderr + run.stdout
    assert listener.connections == 0


@pytest.mark.parametrize("prefix", ["2025/01/*", "2025/01/2?/", "2025/01/20/,logs/*.gz"])
def test_a_wildcard_in_mirror_prefix_is_refused(prefix: str) -> None:
    """A LIST prefix is literal: '2025/01/*' would match no key and report success, nightly."""
    with pytest.raises(ConfigError) as err:
        _load(BUCKET_PAIR="minio/a:minio/b", MIRROR_PREFIX=prefix)
    [problem] = err.value.problems
    assert problem.startswith("MIRROR_PREFIX has a wildcard in ")
    assert "literal start of the keys" in problem


@pytest.mark.parametrize("service", ["photos\nlevel=error forged", "photos\x1b[2J"])
def test_a_control_character_in_service_is_refused(service: str) -> None:
    """SERVICE names every log line, the terminal summary and Slack's header."""
    with pytest.raises(ConfigError) as err:
        _load(BUCKET_PAIR="minio/a:minio/b", SERVICE=service)
    assert err.value.problems == ["SERVICE has a line break or a control character: give a "
                                  "plain name such as 'photos-backup'"]
