"""The answer span of a passage: the sentence that best answers the question.

Each stored passage carries one vector per sentence, pooled from the passage's token embeddings
when it was embedded, so choosing the answer costs a few dot products and no model call. The
question's words that occur in a sentence add a small bonus, which settles near ties in favour of
the sentence that names what was asked about.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from index.records import StoredPassage

TERM_BONUS = 0.1  # weight of the share of question terms found in the sentence
_WORD = re.compile(r"\w+")


def best_sentence(
    query_vector: np.ndarray, passage: StoredPassage, terms: Sequence[str]
) -> tuple[int, float]:
    """(index of the best sentence, its score)."""
    if not passage.sentences:
        return -1, 0.0
    similarity = passage.sentence_vectors @ query_vector
    if terms:
        wanted = set(terms)
        for row, (start, end) in enumerate(passage.sentences):
            words = {w.casefold() for w in _WORD.findall(passage.text[start:end])}
            similarity[row] += TERM_BONUS * len(wanted & words) / len(wanted)
    row = int(np.argmax(similarity))
    return row, float(similarity[row])
