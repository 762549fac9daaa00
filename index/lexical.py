"""Words of a text, and the query terms for lexical (BM25) search: the words of a question
that carry meaning."""

from __future__ import annotations

import re

_WORD = re.compile(r"\w+", re.UNICODE)
# ASCII bytes to themselves lowered if `\w` matches them (letters, digits, "_"), else to a space.
_ASCII_WORD_BYTES = bytes(
    ord(chr(c).lower()) if c < 128 and (chr(c).isalnum() or chr(c) == "_") else ord(" ")
    for c in range(256)
)
_NON_ASCII_WORD_CHARACTER = re.compile(r"[^\x00-\x7f\W]")


def casefolded_words(text: str) -> list[str]:
    """The casefolded words (`\\w+`) of `text`. Text whose word characters are all ASCII (most
    text, even with typographic quotes and dashes) is split in bytes, four times faster than
    the regex and the same words; other text word by word, as casefolding may change what
    counts as a word character."""
    if text.isascii() or not _NON_ASCII_WORD_CHARACTER.search(text):
        # Every other character becomes "?", a separator like the rest.
        lowered = text.encode("ascii", "replace").translate(_ASCII_WORD_BYTES)
        return lowered.decode("ascii").split()
    return [word.casefold() for word in _WORD.findall(text)]


# A standard short English stopword list: words too common for BM25 to rank on, which would
# otherwise make an OR query match nearly every passage.
STOPWORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for
    from further had has have having he her here hers herself him himself his how i if in
    into is it its itself just me more most my myself no nor not of off on once only or
    other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your yours
    yourself yourselves
    """.split()  # noqa: SIM905
)


def query_terms(question: str) -> list[str]:
    """Distinct lowercase words of the question, stopwords dropped (all kept if all are stopwords)."""
    words = casefolded_words(question)
    kept = [word for word in words if word not in STOPWORDS] or words
    return list(dict.fromkeys(kept))


def fts5_match(terms: list[str]) -> str:
    """An FTS5 MATCH expression: any of the terms, each quoted so no word is read as syntax."""
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)
