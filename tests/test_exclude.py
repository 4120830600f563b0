"""MIRROR_EXCLUDE: the documented matching rules, one by one."""

from __future__ import annotations

import pytest

from mirror.exclude import PatternError, parse_exclude

CASES = [
    # pattern, excluded keys, kept keys
    ("*.tmp", ["a.tmp", "x/y/a.tmp", ".tmp"], ["a.tmp/b", "a.tmpx", "tmp"]),
    (".DS_Store", [".DS_Store", "photos/.DS_Store"], ["photos/.DS_Store.bak", "x.DS_Store"]),
    ("/.DS_Store", [".DS_Store"], ["photos/.DS_Store"]),  # a leading '/' anchors it
    ("logs/*.gz", ["logs/a.gz"], ["x/logs/a.gz", "logs/a/b.gz", "logs/a.gzip"]),
    ("/logs/*.gz", ["logs/a.gz"], ["x/logs/a.gz"]),
    ("raw/**/*.bak", ["raw/a.bak", "raw/x/y/a.bak"], ["old/raw/a.bak", "raw/a.bak/c"]),
    ("**/cache/*", ["cache/a", "x/y/cache/a"], ["cache/a/b", "xcache/a"]),
    ("tmp/", ["tmp/a", "x/tmp/b/c"], ["tmpfile", "tmp", "x/tmpdir/a"]),
    ("cache/tmp/", ["cache/tmp/a", "cache/tmp/a/b"], ["x/cache/tmp/a", "cache/tmpx/a"]),
    ("file?.txt", ["file1.txt", "d/fileA.txt"], ["file10.txt", "file/.txt"]),
    ("[abc]*.log", ["a1.log", "d/cx.log"], ["d1.log"]),
    ("[!abc]*.log", ["d1.log"], ["a1.log"]),
    ("img[0-9].png", ["img3.png"], ["imgx.png"]),
    (r"literal\*.txt", ["literal*.txt"], ["literalX.txt"]),
    ("x[/]y", [], ["x/y"]),  # a class never matches '/', as * and ? do not
    ("a[.-0]b", ["a.b", "a0b"], ["a/b"]),  # not even through a range around it
    ("c[[]d", ["c[d"], ["cd"]),
    ("2025/01/22/*", ["2025/01/22/a"], ["2025/01/22/a/b", "2025/01/23/a"]),
    # '\\' escapes inside a class too: [a\\-z] is a, '-' and z, not a range from '\\' to z
    (r"[a\-z].txt", ["a.txt", "-.txt", "z.txt"], ["m.txt", "_.txt", "^.txt", "\\.txt"]),
    (r"x[\]]", ["x]"], ["x\\]", "x\\"]),
    ("[!]a]*", ["b1"], ["]1", "a1"]),  # ']' right after '[!' is a member, as after '['
]


@pytest.mark.parametrize(("pattern", "excluded", "kept"), CASES, ids=[c[0] for c in CASES])
def test_pattern_excludes_exactly_the_documented_keys(pattern: str, excluded: list[str],
                                                      kept: list[str]) -> None:
    """Each documented pattern excludes the keys the README says, and only those."""
    rules = parse_exclude(pattern)
    assert [k for k in excluded if not rules.matches(k)] == []
    assert [k for k in kept if rules.matches(k)] == []


def test_comma_separated_patterns_with_blanks_are_all_applied() -> None:
    """The original's example list works as written, blanks and empty entries ignored."""
    rules = parse_exclude(" *.tmp, *.log ,,.DS_Store ")
    assert rules.patterns == ("*.tmp", "*.log", ".DS_Store")
    assert all(rules.matches(k) for k in ("a.tmp", "b/c.log", "d/.DS_Store"))
    assert not rules.matches("photo.jpg")
    assert rules.which("b/c.log") == "*.log"


@pytest.mark.parametrize("pattern", ["[abc", "abc\\", "/", "[]"])
def test_invalid_patterns_are_rejected(pattern: str) -> None:
    """A pattern that cannot mean anything is a configuration error, not a silent no-op."""
    with pytest.raises(PatternError):
        parse_exclude(pattern)


def test_no_patterns_exclude_nothing() -> None:
    """Without MIRROR_EXCLUDE every key is mirrored."""
    assert not parse_exclude("").matches("anything")
