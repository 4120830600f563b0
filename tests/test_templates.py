"""Date templates in MIRROR_PREFIX at fixed clocks: month, year and zone boundaries."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from conftest import base_env, contents, new_bucket, put, run_mirror

from mirror.sandbox import LocalS3
from mirror.settings import ConfigError, load_settings
from mirror.templates import TemplateError, expand

ENV = {"BUCKET_PAIR": "minio/a:minio/b", "MINIO_URL": "http://m:9000",
       "MINIO_ACCESS_KEY": "k", "MINIO_SECRET_KEY": "s"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize(("template", "clock", "expected"), [
    ("{yesterday:%Y/%m/%d}", "2025-01-01T00:30:00+00:00", "2024/12/31"),  # a year's end
    ("{yesterday:%Y/%m/%d}", "2025-03-01T10:00:00+00:00", "2025/02/28"),  # a month's end
    ("{yesterday:%Y/%m/%d}", "2024-03-01T10:00:00+00:00", "2024/02/29"),  # a leap day
    ("{today:%Y-%m-%d}", "2025-01-22T23:59:59+00:00", "2025-01-22"),
    ("{tomorrow}", "2025-12-31T12:00:00+00:00", "2026/01/01"),
    ("{now-2d:%Y/%m/%d}", "2025-03-01T01:00:00+00:00", "2025/02/27"),
    ("{now-6h:%Y/%m/%d/%H}", "2025-01-01T03:00:00+00:00", "2024/12/31/21"),
    ("{now+1w:%G-W%V}", "2025-12-25T00:00:00+00:00", "2026-W01"),
    ("logs/{today:%Y}/{{raw}}", "2025-06-01T00:00:00+00:00", "logs/2025/{raw}"),
    ("no-template/", "2025-06-01T00:00:00+00:00", "no-template/"),
])
def test_templates_render_at_a_fixed_clock(template: str, clock: str, expected: str) -> None:
    """Each field renders the documented date, across month, leap-day and year ends."""
    assert expand(template, at(clock)) == expected


@pytest.mark.parametrize(("zone", "expected"), [
    ("UTC", ("2025/01/01", "2024/12/31")),
    ("Asia/Seoul", ("2025/01/02", "2025/01/01")),  # UTC+9: already the next day
    ("America/Los_Angeles", ("2025/01/01", "2024/12/31")),
])
def test_the_time_zone_decides_what_today_is(zone: str, expected: tuple[str, str]) -> None:
    """At 15:30 UTC on New Year's Day, Seoul is already on January 2nd."""
    settings = load_settings({**ENV, "MIRROR_TIMEZONE": zone,
                              "MIRROR_PREFIX": "{today},{yesterday}"},
                             clock=at("2025-01-01T15:30:00+00:00"))
    assert settings.prefixes == tuple(sorted(expected))


def test_a_comma_inside_a_template_is_part_of_its_format() -> None:
    """MIRROR_PREFIX is cut into prefixes at commas outside the {date:format} fields."""
    settings = load_settings({**ENV, "MIRROR_PREFIX": "{today:%Y,%m}/, raw/{yesterday:%d}"},
                             clock=at("2025-01-22T12:00:00+00:00"))
    assert settings.prefixes == ("2025,01/", "raw/21")


def test_daylight_saving_days_still_have_one_yesterday() -> None:
    """The day after a 23-hour day (DST start in Los Angeles) names the right yesterday."""
    settings = load_settings({**ENV, "MIRROR_TIMEZONE": "America/Los_Angeles",
                              "MIRROR_PREFIX": "{yesterday:%Y-%m-%d}"},
                             clock=at("2025-03-10T07:30:00+00:00"))  # 00:30 PDT on March 10
    assert settings.prefixes == ("2025-03-09",)


@pytest.mark.parametrize(("template", "message"), [
    ("{someday}", "is not a date"),
    ("{now-2x}", "the offset unit must be w, d or h"),
    ("{today:%Q}", "%Q is not a supported date directive"),
    ("{today", "without a closing"),
    ("today}", "without an opening"),
    ("{today:%}", "ends with a lone %"),
    ("{yesterday:YYYY/MM/DD}", "the format has no % directive"),  # was the text, every day
    ("{today:%%}", "the format has no % directive"),
    ("{now-99999999d}", "beyond the calendar"),
    ("{now+9999999999999999w}", "beyond the calendar"),
])
def test_bad_templates_are_configuration_errors(template: str, message: str) -> None:
    """A template that cannot be rendered stops the run before anything happens."""
    with pytest.raises(TemplateError, match=message):
        expand(template, at("2025-01-01T00:00:00+00:00"))
    with pytest.raises(ConfigError, match="MIRROR_PREFIX has a bad date template"):
        load_settings({**ENV, "MIRROR_PREFIX": template})


def test_an_unknown_time_zone_is_a_configuration_error() -> None:
    """MIRROR_TIMEZONE must be an IANA name."""
    with pytest.raises(ConfigError, match="MIRROR_TIMEZONE must be an IANA time zone"):
        load_settings({**ENV, "MIRROR_TIMEZONE": "Mars/Olympus_Mons",
                       "MIRROR_PREFIX": "{today}"})


def test_a_nightly_run_mirrors_only_the_resolved_prefix(minio_side: LocalS3,
                                                        aws_side: LocalS3) -> None:
    """The CronJob recipe: {today:...} resolves at run time, is logged, and scopes the run."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    before = datetime.now(UTC).strftime("%Y/%m/%d")
    put(minio_side, src, {f"{before}/today.jpg": b"t", "2000/01/01/old.jpg": b"o"})

    run = run_mirror({**base_env(minio=minio_side, aws=aws_side),
                      "MIRROR_PREFIX": "{today:%Y/%m/%d}/", "MIRROR_TIMEZONE": "UTC",
                      "BUCKET_PAIR": f"minio/{src}:aws/{dst}"})

    assert run.code == 0
    resolved = run.named("run.start")[0]["prefixes"]
    assert resolved in ([f"{before}/"], [datetime.now(UTC).strftime("%Y/%m/%d") + "/"])
    assert run.pair()["prefixes"] == resolved
    if resolved == [f"{before}/"]:
        assert contents(aws_side, dst) == {f"{before}/today.jpg": b"t"}


@pytest.mark.parametrize(("zone", "clock", "expected"), [
    # 03:30 CEST on the day clocks jump 02:00 -> 03:00: the hour before is 01 (CET), not 02
    ("Europe/Berlin", "2025-03-30T01:30:00+00:00", "2025/03/30/01"),
    # 02:30 CET, the second 02:30 of the day clocks go back: the hour before is 02 (CEST)
    ("Europe/Berlin", "2025-10-26T01:30:00+00:00", "2025/10/26/02"),
    ("America/New_York", "2025-03-09T07:30:00+00:00", "2025/03/09/01"),  # 03:30 EDT
    # Lord Howe moves by half an hour: 02:45 (+11) is 01:15 (+10:30) an hour before
    ("Australia/Lord_Howe", "2025-10-04T15:45:00+00:00", "2025/10/05/0115"),
])
def test_hour_offsets_count_elapsed_hours_across_daylight_saving(zone: str, clock: str,
                                                                 expected: str) -> None:
    """An hourly run's {now-1h} names the hour that just ended, so no hour folder is skipped
    on the day the clocks jump forward (a wall-clock subtraction named the missing 02)."""
    fmt = "%Y/%m/%d/%H%M" if zone == "Australia/Lord_Howe" else "%Y/%m/%d/%H"
    settings = load_settings({**ENV, "MIRROR_TIMEZONE": zone,
                              "MIRROR_PREFIX": f"{{now-1h:{fmt}}}"}, clock=at(clock))
    assert settings.prefixes == (expected,)


def test_day_offsets_stay_calendar_days_across_daylight_saving() -> None:
    """{now-1d} is the same wall time one date earlier, even after a 23-hour day."""
    settings = load_settings({**ENV, "MIRROR_TIMEZONE": "Europe/Berlin",
                              "MIRROR_PREFIX": "{now-1d:%Y/%m/%d/%H}"},
                             clock=at("2025-03-31T00:30:00+00:00"))  # 02:30 CEST, March 31
    assert settings.prefixes == ("2025/03/30/02",)
