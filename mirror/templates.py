"""Date templates in MIRROR_PREFIX, so a CronJob can say "yesterday" without a shell.

The original recipe, `MIRROR_PREFIX="$(date -d yesterday +%Y/%m/%d)"`, works only where a
shell runs the command line; a Kubernetes CronJob's `env` cannot. Instead:

    {yesterday:%Y/%m/%d}     2025/01/21 when run on 2025-01-22
    {today:%Y-%m-%d}         2025-01-22
    {now-2d:%Y/%m/%d}        two days before now; units: w (weeks), d (days), h (hours)
    {today}                  the default format, %Y/%m/%d
    {{ and }}                literal braces

`now` is the current time and `today`/`yesterday`/`tomorrow` the current date, in
MIRROR_TIMEZONE (an IANA name such as Asia/Seoul; default UTC).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

DEFAULT_FORMAT = "%Y/%m/%d"
_BASES = {"now": 0, "today": 0, "yesterday": -1, "tomorrow": 1}
_UNITS = {"w": timedelta(weeks=1), "d": timedelta(days=1), "h": timedelta(hours=1)}
_FIELD = re.compile(r"^(?P<base>[a-z]+)(?:(?P<sign>[+-])(?P<n>\d+)(?P<unit>[a-z]))?$")
_DIRECTIVES = set("YmdHMSjyUWVGuaAbBpIe")


class TemplateError(ValueError):
    pass


def _render_field(spec: str, now: datetime) -> str:
    name, _, fmt = spec.partition(":")
    found = _FIELD.match(name.strip())
    if not found or found["base"] not in _BASES:
        raise TemplateError(f"{{{spec}}} is not a date: use now, today, yesterday or tomorrow, "
                            "with an optional offset such as now-2d")
    if found["n"] and found["unit"] not in _UNITS:
        raise TemplateError(f"{{{spec}}}: the offset unit must be w, d or h")
    try:
        days = _BASES[found["base"]]
        # (adding a timedelta drops `fold`: the second 02:30 of a day the clocks go back
        # would become the first, an hour earlier)
        moment = now + timedelta(days=days) if days else now
        if found["n"]:
            step = _UNITS[found["unit"]] * int(found["n"])
            step = step if found["sign"] == "+" else -step
            if found["unit"] == "h" and moment.tzinfo is not None:
                # hours are elapsed time: counted on the UTC clock, not the wall clock, so
                # across a DST change now-1h is the hour before (never a skipped hour)
                moment = (moment.astimezone(UTC) + step).astimezone(moment.tzinfo)
            else:  # days and weeks are calendar steps: the same wall time on another date
                moment = moment + step
    except (OverflowError, ValueError):
        raise TemplateError(f"{{{spec}}}: the offset goes beyond the calendar "
                            "(years 1 to 9999)") from None
    fmt = fmt or DEFAULT_FORMAT
    directives = re.findall(r"%(.?)", fmt.replace("%%", ""))
    for directive in directives:
        if not directive:
            raise TemplateError(f"{{{spec}}}: the format ends with a lone % (write %% for a "
                                "literal one)")
        if directive not in _DIRECTIVES:
            raise TemplateError(f"{{{spec}}}: %{directive} is not a supported date directive")
    if not directives:  # {yesterday:YYYY/MM/DD} rendered as the text, the same every day
        raise TemplateError(f"{{{spec}}}: the format has no % directive, so it names no date "
                            "and renders as written every day: use strftime's, such as "
                            "%Y/%m/%d")
    return moment.strftime(fmt)


def split_list(text: str) -> list[str]:
    """`text` cut at its commas, except those inside a {date:format} field."""
    entries, inside, start, i = [], False, 0, 0
    while i < len(text):
        if not inside and text.startswith(("{{", "}}"), i):
            i += 2
            continue
        if text[i] in "{}":
            inside = text[i] == "{"
        elif text[i] == "," and not inside:
            entries.append(text[start:i])
            start = i + 1
        i += 1
    return [*entries, text[start:]]


def dated(text: str) -> bool:
    """Whether `text` has a date field: a prefix that names another folder every day."""
    return "{" in text.replace("{{", "")


def expand(text: str, now: datetime) -> str:
    """Replace every {date:format} field of `text`; raise TemplateError for a bad one."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("{{", i) or text.startswith("}}", i):
            out.append(text[i])
            i += 2
        elif text[i] == "{":
            end = text.find("}", i)
            if end < 0:
                raise TemplateError(f"'{text[i:]}' has a '{{' without a closing '}}'")
            out.append(_render_field(text[i + 1 : end], now))
            i = end + 1
        elif text[i] == "}":
            raise TemplateError(f"'{text}' has a '}}' without an opening '{{' (write '}}}}')")
        else:
            out.append(text[i])
            i += 1
    return "".join(out)
