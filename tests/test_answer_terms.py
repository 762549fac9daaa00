"""Which sentence carries the question's terms: the coverage signal and the answer shown.

No model: these are about matching words, which the answer sentence and the coverage signal
depend on in every mode."""

from __future__ import annotations

import pytest

from index.answer import TermMatcher
from index.lexical import query_terms


def matcher(question: str) -> TermMatcher:
    terms = query_terms(question)
    return TermMatcher(terms, dict.fromkeys(terms, 1.0))


def test_words_match_whatever_their_case_and_inflection() -> None:
    ask = matcher("What did Zelensky ask of NATO?")
    assert ask.coverage("ZELENSKY ASKED nato") == pytest.approx(1.0)
    assert ask.coverage("zelensky's requests to Nato, asking") == pytest.approx(1.0)


def test_a_term_matches_at_word_starts_only() -> None:
    c_code = matcher("c code")
    assert c_code.coverage("access to barcode decoding") == 0.0
    assert c_code.coverage("C extension code") == pytest.approx(1.0)


def test_text_outside_ascii_matches_like_plain_text() -> None:
    """Text outside ASCII takes the case-blind pattern; it finds the same words."""
    kyiv = matcher("settlements in Kyiv")
    plain_text = "Settlements grew there. Kyiv's mayor, Klitschko."
    spans = [(0, 23), (24, len(plain_text))]
    plain = kyiv.coverages(plain_text, spans)
    accented = kyiv.coverages("Settlements grew thére. Kyiv's mayor, Klitschkó.", spans)
    assert list(plain) == list(accented)
    assert 0 < plain[0] < 1 and 0 < plain[1] < 1
    assert kyiv.coverage("SETTLEMENTS — KYIV") == pytest.approx(1.0)


def test_each_sentence_counts_its_own_terms() -> None:
    text = "NATO met in Brussels. Zelensky asked for a no-fly zone."
    spans = [(0, 21), (22, len(text))]
    shares = matcher("Zelensky asked NATO for a no-fly zone").coverages(text, spans)
    assert shares[1] > shares[0] > 0
