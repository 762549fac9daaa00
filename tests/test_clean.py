from __future__ import annotations

import re
from pathlib import Path

import pytest

from index.models import Document
from pipeline.clean import Cleaner, clean_text, normalize_for_match
from pipeline.report import RunReport

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
CNN = SEEDS / "cnn-zelensky-interview.txt"
BUNKER = SEEDS / "zelensky-bunker-interview.txt"
URL_LINE = re.compile(r"<?(https?://|www\.)\S+>?")


def _paragraphs(text: str) -> list[str]:
    return [p for p in re.split(r"\n\s*\n", text) if p.strip()]


@pytest.mark.parametrize("seed", [CNN, BUNKER], ids=lambda p: p.stem)
def test_seed_has_no_markdown_links_url_lines_or_stray_blank_lines(seed: Path) -> None:
    cleaned = clean_text(seed.read_text(encoding="utf-8"))

    assert "](#)" not in cleaned
    assert "](" not in cleaned
    assert cleaned == cleaned.strip()
    assert "\n\n\n" not in cleaned
    for line in cleaned.split("\n"):
        assert line == line.strip()
        assert not URL_LINE.fullmatch(line), line
        assert "  " not in line
    # Blank lines only ever appear singly, between two text lines.
    lines = cleaned.split("\n")
    for i, line in enumerate(lines):
        if not line:
            assert lines[i - 1] and lines[i + 1]


def test_cnn_seed_links_become_their_text_and_paragraphs_survive() -> None:
    raw = CNN.read_text(encoding="utf-8")
    cleaned = clean_text(raw)

    assert "By Matthew Chance" in cleaned
    assert "(CNN)Ukrainian President Volodymyr Zelensky has urged" in cleaned
    assert "about the Russian invasion at his State" in cleaned
    assert "edition.cnn.com" not in cleaned
    # Only the URL-only paragraph goes; every other paragraph is kept, in order.
    raw_paragraphs = [p.strip() for p in _paragraphs(raw) if not URL_LINE.fullmatch(p.strip())]
    assert len(_paragraphs(cleaned)) == len(raw_paragraphs) > 30
    assert _paragraphs(cleaned)[-1].endswith('he said: "Work and sleep."')


def test_bunker_seed_keeps_single_newlines_and_curly_quotes() -> None:
    raw = BUNKER.read_text(encoding="utf-8")
    cleaned = clean_text(raw)

    assert len(_paragraphs(cleaned)) == len(_paragraphs(raw)) == 1
    assert cleaned.count("\n") == raw.strip().count("\n") == 15
    assert "Russia’s invasion" in cleaned
    assert "“[Biden] is one of the leaders" in cleaned


def test_paragraph_breaks_collapse_to_one_blank_line() -> None:
    text = "\n\n  First line\nsecond line  \n\n\n\n \t \nNext paragraph\r\n\r\nLast\n\n"
    assert clean_text(text) == "First line\nsecond line\n\nNext paragraph\n\nLast"


def test_unicode_is_nfkc_normalised_and_mojibake_repaired() -> None:
    assert clean_text("ﬁnal ﬂow") == "final flow"
    assert clean_text("Room １２３") == "Room 123"
    assert clean_text("The Mona Lisa doesnÃ¢â‚¬â„¢t smile") == "The Mona Lisa doesn’t smile"


def test_control_characters_and_line_endings() -> None:
    assert clean_text("a\x00b\x07c\rd\r\ne\x1bf") == "abc\nd\nef"
    assert clean_text("tab\tin\t\tline") == "tab in line"


def test_markdown_images_links_and_autolinks() -> None:
    text = (
        "See ![a chart](https://x.org/chart.png) and [the wiki](https://en.wikipedia.org/wiki/Kyiv_(city)).\n"
        "Mail <https://example.com/page> today.\n"
        "[bracketed note] stays as written."
    )
    assert clean_text(text) == (
        "See a chart and the wiki.\n"
        "Mail https://example.com/page today.\n"
        "[bracketed note] stays as written."
    )


def test_lines_that_are_only_urls_are_dropped() -> None:
    text = "Intro\nhttps://example.com/a?b=1\n<https://example.com/b>\nwww.example.com\nEnd"
    assert clean_text(text) == "Intro\nEnd"


def test_normalize_for_match_folds_typography() -> None:
    assert normalize_for_match("Russia’s") == normalize_for_match("Russia's") == "russia's"
    assert normalize_for_match("“Quoted” — and – more…") == '"quoted" - and - more...'
    assert normalize_for_match("  MANY\n\t spaces  ") == "many spaces"
    assert normalize_for_match("Straße") == normalize_for_match("STRASSE")


def test_cleaner_drops_empty_documents_and_reports_them() -> None:
    report = RunReport()
    docs = [
        Document(id="a", text="  Hello   [world](#)  \n\n\n", title="  A\n title "),
        Document(id="blank", text=" \n\t \r\n ", source="blank.txt"),
        Document(id="url-only", text="https://example.com\n"),
        Document(id="c", text="Still here"),
    ]

    out = list(Cleaner(report)(docs))

    assert [d.id for d in out] == ["a", "c"]
    assert out[0].text == "Hello world"
    assert out[0].title == "A title"
    assert report.failed == 2
    assert [(f.source, f.reason) for f in report.failures] == [
        ("blank.txt", "no text after cleaning"),
        ("url-only", "no text after cleaning"),
    ]
    # The stage copies; the input documents are left as they were.
    assert docs[0].text.startswith("  Hello")


def test_cleaner_is_lazy() -> None:
    def endless():
        n = 0
        while True:
            n += 1
            yield Document(id=str(n), text=f"doc {n}")

    stage = Cleaner(RunReport())(endless())
    assert next(stage).text == "doc 1"
    assert next(stage).text == "doc 2"
