"""Request prices: the documented tables, per-alias choice and overrides, bad values refused."""

from __future__ import annotations

from decimal import Decimal

import pytest
from conftest import base_env, run_mirror

from mirror.report.pricing import TABLES
from mirror.settings import ConfigError, load_settings

BASE = {"MINIO_URL": "http://minio.minio.svc.cluster.local:9000", "MINIO_ACCESS_KEY": "k",
        "MINIO_SECRET_KEY": "s", "AWS_URL": "https://s3.ap-northeast-2.amazonaws.com",
        "AWS_ACCESS_KEY": "ak", "AWS_SECRET_KEY": "as",
        "R2_URL": "https://abc.r2.cloudflarestorage.com", "R2_ACCESS_KEY": "rk",
        "R2_SECRET_KEY": "rs", "BUCKET_PAIRS": "minio/a:aws/b;minio/c:r2/d"}


def test_aws_prices_writes_and_lists_at_tier_1_and_reads_at_tier_2() -> None:
    """$0.005 per 1,000 PUT/COPY/POST/LIST, $0.0004 per 1,000 GET/HEAD; aborts are free."""
    cost = TABLES["aws-s3-standard"].cost({"LIST": 1000, "PUT": 1000, "MPU_CREATE": 500,
                                           "MPU_COMPLETE": 500, "GET": 10000, "HEAD": 5000,
                                           "MPU_ABORT": 100})
    assert cost == Decimal("0.005") * 3 + Decimal("0.0004") * 15


def test_r2_prices_class_a_and_b_per_million() -> None:
    """R2: Class A $4.50 per million (LIST included), Class B $0.36 per million."""
    r2 = TABLES["r2"]
    assert r2.cost({"PUT": 500_000, "LIST": 500_000}) == Decimal("4.50")
    assert r2.cost({"GET": 600_000, "HEAD": 400_000}) == Decimal("0.36")


def test_b2_charges_lists_and_copies_but_not_uploads() -> None:
    """Backblaze B2: uploads free, downloads $0.004 per 10,000, lists $0.004 per 1,000."""
    b2 = TABLES["b2"]
    assert b2.cost({"PUT": 10_000, "MPU_PART": 10_000}) == 0
    assert b2.cost({"GET": 10_000}) == Decimal("0.004")
    assert b2.cost({"LIST": 1000, "COPY": 1000}) == Decimal("0.008")


def test_each_alias_gets_its_providers_table_and_the_minio_alias_is_free() -> None:
    """aws -> aws-s3-standard, r2 -> r2, an in-cluster `minio` endpoint -> none."""
    aliases = load_settings(BASE).aliases
    assert {name: a.pricing.name for name, a in aliases.items()} == {
        "minio": "none", "aws": "aws-s3-standard", "r2": "r2"}


def test_a_generic_endpoint_under_another_alias_is_not_priced() -> None:
    """An unknown store is 'unknown', not a guessed $0."""
    settings = load_settings({**BASE, "BUCKET_PAIR": "", "BUCKET_PAIRS": "minio/a:backup/b",
                              "BACKUP_URL": "https://s3.example.net", "BACKUP_ACCESS_KEY": "k",
                              "BACKUP_SECRET_KEY": "s"})
    assert settings.aliases["backup"].pricing.name == "unknown"
    assert settings.aliases["backup"].pricing.cost({"PUT": 1}) is None


def test_pricing_can_be_chosen_and_overridden_per_alias() -> None:
    """<ALIAS>_PRICING picks a table; _PRICE_CLASS_A/_B replace its prices per 1,000."""
    aliases = load_settings({**BASE, "AWS_PRICING": "aws-s3-standard-ia",
                             "R2_PRICE_CLASS_B": "0.001", "MINIO_PRICE_CLASS_A": "$0.01",
                             "MINIO_PRICE_CLASS_B": "0"}).aliases
    assert aliases["aws"].pricing.cost({"PUT": 1000}) == Decimal("0.01")
    assert aliases["r2"].pricing.name == "r2+custom"
    assert aliases["r2"].pricing.cost({"GET": 1000, "PUT": 1000}) == Decimal("0.0055")
    assert aliases["minio"].pricing.name == "custom"
    assert aliases["minio"].pricing.cost({"LIST": 2000, "GET": 5}) == Decimal("0.02")


@pytest.mark.parametrize(("overrides", "alias", "table", "put", "list_"), [
    ({"AWS_STORAGE_CLASS": "glacier_ir"}, "aws", "aws-s3-glacier-ir", "0.02", "0.005"),
    ({"AWS_STORAGE_CLASS": "DEEP_ARCHIVE"}, "aws", "aws-s3-deep-archive", "0.05", "0.005"),
    ({"AWS_STORAGE_CLASS": "STANDARD_IA"}, "aws", "aws-s3-standard-ia", "0.01", "0.005"),
    ({"AWS_STORAGE_CLASS": "REDUCED_REDUNDANCY"}, "aws", "aws-s3-standard", "0.005", "0.005"),
    ({"R2_STORAGE_CLASS": "STANDARD_IA"}, "r2", "r2-infrequent-access", "0.009", "0.009"),
    ({"AWS_STORAGE_CLASS": "GLACIER_IR", "AWS_PRICING": "aws-s3-standard"}, "aws",
     "aws-s3-standard", "0.005", "0.005"),
    ({"MINIO_STORAGE_CLASS": "GLACIER_IR"}, "minio", "none", "0", "0"),
])
def test_the_storage_class_written_in_picks_the_price_table(
        overrides: dict[str, str], alias: str, table: str, put: str, list_: str) -> None:
    """Writes into a colder class cost more (AWS bills a PUT by the object's class, a LIST
    at Standard's rate): a target's _STORAGE_CLASS picks its table unless _PRICING is set;
    a class without a table, or a self-hosted store, keeps the provider's."""
    pricing = load_settings({**BASE, **overrides}).aliases[alias].pricing
    assert pricing.name == table
    assert pricing.cost({"PUT": 1000}) == Decimal(put)
    assert pricing.cost({"LIST": 1000}) == Decimal(list_)


@pytest.mark.parametrize(("overrides", "message"), [
    ({"AWS_PRICING": "glacier"}, "AWS_PRICING must be one of aws-s3-standard,"),
    ({"R2_PRICE_CLASS_A": "cheap"}, "R2_PRICE_CLASS_A must be US dollars per 1,000 requests"),
    ({"R2_PRICE_CLASS_B": "-1"}, "R2_PRICE_CLASS_B must be US dollars per 1,000 requests"),
    ({"R2_PRICE_CLASS_A": "1e999999"}, "R2_PRICE_CLASS_A must be US dollars per 1,000 "
                                       "requests such as 0.005 (at most 1000)"),
    ({"MIRROR_PRINT_SUMMARY": "sometimes"}, "MIRROR_PRINT_SUMMARY must be true, false or auto"),
    ({"SLACK_API_URL": "slack.example.com/api"}, "SLACK_API_URL must look like http(s)://"),
    ({"MIRROR_PUSHGATEWAY_URL": "pushgateway:9091"}, "MIRROR_PUSHGATEWAY_URL must look like"),
])
def test_bad_summary_settings_are_configuration_errors(overrides: dict[str, str],
                                                       message: str) -> None:
    """Each bad value is named with what was expected."""
    with pytest.raises(ConfigError) as caught:
        load_settings({**BASE, **overrides})
    assert any(p.startswith(message) for p in caught.value.problems), caught.value.problems


def test_a_bad_price_stops_the_command_with_exit_2() -> None:
    """The CLI refuses a bad price before any request, like every configuration error."""
    run = run_mirror({**base_env(), **BASE, "AWS_PRICE_CLASS_A": "free"})
    assert run.code == 2
    assert "AWS_PRICE_CLASS_A must be US dollars per 1,000 requests" in run.stderr
    assert [e["event"] for e in run.events] == ["config.invalid"]  # nothing ran


def test_help_lists_the_summary_variables() -> None:
    """--help documents every variable this feature adds."""
    run = run_mirror(base_env(), "--help")
    for name in ("<ALIAS>_PRICING", "<ALIAS>_PRICE_CLASS_A", "<ALIAS>_PRICE_CLASS_B",
                 "SLACK_API_URL", "MIRROR_REPORT_FILE", "MIRROR_PUSHGATEWAY_URL",
                 "MIRROR_PRINT_SUMMARY"):
        assert name in run.stdout
