"""The training corpus: the King James Bible (public domain) from Debian's bible-kjv-text package,
extracted with the `bible` program of the bible-kjv package.

Text layout, one chapter a block:
    Genesis 1
    In the beginning God created the heaven and the earth.
    And the earth was without form, and void; ...
with a blank line between chapters. Every HOLDOUT_EVERY-th chapter (counting over the whole
Bible in order) is held out for evaluation, so the held-out text spans the whole book.
"""
import re
import subprocess

HOLDOUT_EVERY = 40  # 30 of the 1189 chapters (2.5%)
_HEADING = re.compile(r"^(?:[123] )?[A-Z][A-Za-z ]*? \d+$")
_VERSE = re.compile(r"^\s+\d+ (.*)$")


def read_bible_text(source_file=None):
    """The `bible` program's output for the whole KJV (or a saved copy of it)."""
    if source_file:
        with open(source_file, encoding="utf-8") as f:
            return f.read()
    try:
        out = subprocess.run(["bible", "-l10000", "gen1:1-rev22:21"], stdin=subprocess.DEVNULL,
                             capture_output=True, check=True, timeout=120)
    except FileNotFoundError:
        raise SystemExit("train: the `bible` program is missing: apt-get install bible-kjv bible-kjv-text")
    return out.stdout.decode("utf-8")


def parse_chapters(raw):
    """[(heading, [verse, ...]), ...] in canonical order."""
    chapters = []
    for line in raw.splitlines():
        if not line.strip():
            continue
        verse = _VERSE.match(line)
        if verse:
            if not chapters:
                raise SystemExit("train: a verse before the first chapter heading: " + line[:80])
            chapters[-1][1].append(verse.group(1).strip())
        elif _HEADING.match(line):
            chapters.append((line.strip(), []))
        else:
            raise SystemExit("train: unexpected line in the bible text: " + line[:80])
    if len(chapters) != 1189:
        raise SystemExit(f"train: expected the 1189 chapters of the KJV, found {len(chapters)}")
    return chapters


def chapter_text(chapter):
    heading, verses = chapter
    return heading + "\n" + "\n".join(verses) + "\n"


def split_corpus(chapters):
    """(training chapter texts, held-out chapter texts)."""
    train, held_out = [], []
    for i, ch in enumerate(chapters):
        (held_out if i % HOLDOUT_EVERY == HOLDOUT_EVERY - 1 else train).append(chapter_text(ch))
    return train, held_out
