"""MIRROR_EXCLUDE: which keys the mirror leaves alone.

Patterns are matched against the key relative to the pair's prefix, with these rules
(the README's "Exclude patterns" section shows examples of each):

- a pattern without '/' matches the last segment of the key, at any depth:
  `*.tmp` excludes `a.tmp` and `x/y/a.tmp`; `.DS_Store` excludes `photos/.DS_Store`;
- a pattern with '/' matches the whole key from its start: `logs/*.gz` excludes
  `logs/a.gz` but not `x/logs/a.gz`; a leading '/' makes any pattern one of these
  (`/.DS_Store` excludes `.DS_Store`, not `photos/.DS_Store`);
- a pattern ending in '/' is a folder and excludes everything under it: `tmp/` excludes
  `tmp/a` and `x/tmp/b`, `cache/tmp/` only `cache/tmp/...`;
- `*` and `?` never cross a '/'; `**` crosses any number of them (`raw/**/*.bak`);
  `[abc]`, `[a-z]` and `[!abc]` are character classes, which never match '/' either;
  `\\` escapes the next character.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


class PatternError(ValueError):
    pass


def _translate(glob: str) -> str:
    out: list[str] = []
    i, n = 0, len(glob)
    while i < n:
        c = glob[i]
        if c == "*":
            if glob.startswith("**/", i):
                out.append("(?:.*/)?")
                i += 3
                continue
            if glob.startswith("**", i):
                out.append(".*")
                i += 2
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = i + 1
            negate = glob[j : j + 1] in ("!", "^")
            j += negate
            first, members = j, []
            # a ']' right after '[' or '[!' is a member; '\\' escapes inside a class too
            # ([\\]], [a\\-z]), as everywhere else
            while j < n and (glob[j] != "]" or j == first):
                if glob[j] == "\\" and j + 1 < n:
                    members.append(re.escape(glob[j + 1]))
                    j += 2
                    continue
                members.append("-" if glob[j] == "-" else re.escape(glob[j]))
                j += 1
            if j >= n:
                raise PatternError("'[' without a closing ']'" + (
                    " ('\\' escapes inside a class too: [\\\\] is a backslash)"
                    if "\\" in glob[i:] else ""))
            escaped = "".join(members)
            # like * and ?, a class never matches '/', even one that names it or a range
            # around it ([.-0])
            out.append(f"[^/{escaped}]" if negate else f"(?!/)[{escaped}]")
            i = j
        elif c == "\\":
            if i + 1 >= n:
                raise PatternError("'\\' at the end escapes nothing")
            out.append(re.escape(glob[i + 1]))
            i += 1
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def compile_pattern(pattern: str) -> str:
    """The regular expression (as text) for one exclude pattern."""
    folder = pattern.endswith("/")
    body = pattern.rstrip("/")
    if not body:
        raise PatternError("a pattern needs more than '/'")
    anchored = "/" in body
    regex = _translate(body.lstrip("/"))
    head = "" if anchored else "(?:.*/)?"
    tail = "/.*" if folder else ""
    return f"{head}{regex}{tail}"


@dataclass(frozen=True)
class Exclude:
    patterns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        regexes = [compile_pattern(p) for p in self.patterns]
        combined = "|".join(f"(?:{r})" for r in regexes)
        object.__setattr__(self, "_any", re.compile(combined, re.S) if regexes else None)
        object.__setattr__(self, "_each", [re.compile(r, re.S) for r in regexes])

    def matches(self, key: str) -> bool:
        any_: re.Pattern[str] | None = self.__dict__["_any"]
        return any_ is not None and any_.fullmatch(key) is not None

    def which(self, key: str) -> str | None:
        """The first pattern that excludes `key` (for debug logs)."""
        for pattern, regex in zip(self.patterns, self.__dict__["_each"], strict=True):
            if regex.fullmatch(key):
                return pattern
        return None


_ALTERNATIVES = re.compile(r"\{[^{},]*,[^{}]*\}")


def parse_exclude(value: str) -> Exclude:
    """Comma-separated patterns; blanks around them and empty entries are ignored."""
    braces = _ALTERNATIVES.search(value)
    if braces:  # split at its commas, it would quietly become other patterns
        raise PatternError(f"invalid pattern {braces.group()!r}: {{a,b}} alternatives are not "
                           "supported (commas separate patterns): list each one, e.g. "
                           "*.tmp,*.log")
    patterns = tuple(p.strip() for p in value.split(",") if p.strip())
    for pattern in patterns:
        try:
            re.compile(compile_pattern(pattern))
        except (PatternError, re.error) as exc:
            raise PatternError(f"invalid pattern {pattern!r}: {exc}") from exc
    return Exclude(patterns)
