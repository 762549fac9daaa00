"""Stage: split cleaned documents into passages that fit the model.

Sentences (sentencex, which also marks paragraph breaks) are packed greedily up to a budget of
the model's own tokens; a chunk closes early at a paragraph break once it is half full, so
passages follow the author's structure where they can. The next chunk starts with the last
sentences of the previous one (up to the overlap budget), except after a paragraph break. A
sentence longer than the budget is cut at token boundaries. Every chunk keeps its character
offsets in the cleaned document and the spans of its sentences.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import sentencex
from tokenizers import Tokenizer

from index.models import Document
from index.records import Chunk, Span
from pipeline.clean import normalize_for_match

SPECIAL_TOKENS = 2  # [CLS] and [SEP] take two places of the model's window
TOKENIZE_SLICE = 512  # sentences tokenized at once
STRETCH_CHARS = 65_536  # text split into sentences at once (then on to a paragraph's end)
_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n\s*")


def passage_hash(text: str) -> str:
    """Identity of a passage's text: equal after normalisation means one shared vector."""
    return hashlib.sha256(normalize_for_match(text).encode()).hexdigest()[:32]


@dataclass(slots=True)
class _Sentence:
    start: int
    end: int
    tokens: int
    opens_paragraph: bool


class Chunker:
    """`Chunker(tokenizer, chunk_tokens=200, overlap_tokens=32, max_tokens=256)(documents)`
    yields the `Chunk`s of each document in order."""

    def __init__(
        self,
        tokenizer: Tokenizer,
        chunk_tokens: int = 250,
        overlap_tokens: int = 32,
        max_tokens: int = 256,
        language: str = "en",
    ) -> None:
        budget = min(chunk_tokens, max_tokens - SPECIAL_TOKENS)
        if budget < 8:
            raise ValueError(f"chunk budget of {budget} tokens is too small")
        if overlap_tokens >= budget:
            raise ValueError("overlap_tokens must be smaller than the chunk budget")
        self.tokenizer = tokenizer
        self.budget = budget
        self.overlap = overlap_tokens
        self.language = language

    def __call__(self, documents: Iterable[Document]) -> Iterator[Chunk]:
        for document in documents:
            yield from self.chunk(document)

    def chunk(self, document: Document) -> list[Chunk]:
        sentences = self._sentences(document.text)
        chunks: list[Chunk] = []
        current: list[_Sentence] = []
        used = 0
        for sentence in sentences:
            paragraph_break = sentence.opens_paragraph and used >= self.budget // 2
            if current and (used + sentence.tokens > self.budget or paragraph_break):
                chunks.append(self._make(document, len(chunks), current))
                current = [] if paragraph_break else self._overlap_tail(current, sentence)
                used = sum(s.tokens for s in current)
            current.append(sentence)
            used += sentence.tokens
        if current:
            chunks.append(self._make(document, len(chunks), current))
        return chunks

    def _overlap_tail(self, sentences: list[_Sentence], following: _Sentence) -> list[_Sentence]:
        """The last sentences of a chunk that fit the overlap budget and leave room for the next."""
        tail: list[_Sentence] = []
        room = min(self.overlap, self.budget - following.tokens)
        for sentence in reversed(sentences):
            if sentence.tokens > room:
                break
            tail.insert(0, sentence)
            room -= sentence.tokens
        return tail

    def _make(self, document: Document, ordinal: int, sentences: list[_Sentence]) -> Chunk:
        start, end = sentences[0].start, sentences[-1].end
        text = document.text[start:end]
        return Chunk(
            doc_id=document.id,
            ordinal=ordinal,
            start=start,
            end=end,
            text=text,
            text_hash=passage_hash(text),
            n_tokens=sum(s.tokens for s in sentences),
            sentences=[(s.start - start, s.end - start) for s in sentences],
        )

    def _boundaries(self, text: str) -> Iterator[dict]:
        """sentencex's boundaries of the text, with offsets into it, a stretch of paragraphs
        at a time: sentencex returns a list of dicts holding each sentence's text (650 bytes a
        sentence: 66 MB for a 2000-page PDF), and no sentence spans a paragraph break."""
        start = 0
        while start < len(text):
            end = _stretch_end(text, start + STRETCH_CHARS)
            for boundary in sentencex.get_sentence_boundaries(self.language, text[start:end]):
                boundary["start_index"] += start
                boundary["end_index"] += start
                yield boundary
            # sentencex does not always mark the break that ends its text (after a line
            # without a full stop, it does not): the stretch ended at one.
            yield {"start_index": end, "end_index": end, "is_paragraph_break": True}
            start = end

    def _sentences(self, text: str) -> list[_Sentence]:
        """Sentence spans with token counts; lines split too, and overlong sentences cut."""
        spans: list[tuple[int, int, bool]] = []
        opens_paragraph = True
        for boundary in self._boundaries(text):
            if boundary["is_paragraph_break"]:
                opens_paragraph = True
                continue
            for start, end in _lines(text, boundary["start_index"], boundary["end_index"]):
                spans.append((start, end, opens_paragraph))
                opens_paragraph = False
        if not spans:
            return []
        sentences: list[_Sentence] = []
        # Tokenized a slice at a time: a long document's encodings are not all held at once.
        for first in range(0, len(spans), TOKENIZE_SLICE):
            part = spans[first : first + TOKENIZE_SLICE]
            encodings = self.tokenizer.encode_batch(
                [text[start:end] for start, end, _ in part], add_special_tokens=False
            )
            for (start, end, opens), encoding in zip(part, encodings, strict=True):
                if len(encoding.ids) <= self.budget:
                    sentences.append(_Sentence(start, end, len(encoding.ids), opens))
                    continue
                for piece_start, piece_end, tokens in _cut(encoding.offsets, self.budget):
                    sentences.append(
                        _Sentence(start + piece_start, start + piece_end, tokens, opens)
                    )
                    opens = False
        return sentences


def _stretch_end(text: str, at: int) -> int:
    """Where the first paragraph break at or after `at` ends (the text's end if none does)."""
    if at >= len(text):
        return len(text)
    found = _PARAGRAPH_BREAK.search(text, at)
    return found.end() if found else len(text)


def _lines(text: str, start: int, end: int) -> Iterator[Span]:
    """The non-blank lines of text[start:end], trimmed, as absolute spans."""
    position = start
    for line in text[start:end].split("\n"):
        stripped = line.strip()
        if stripped:
            offset = position + line.index(stripped[0])
            yield offset, offset + len(stripped)
        position += len(line) + 1


def _cut(offsets: list[Span], budget: int) -> Iterator[tuple[int, int, int]]:
    """Cut an overlong sentence into pieces of at most `budget` tokens, at token boundaries."""
    for first in range(0, len(offsets), budget):
        piece = offsets[first : first + budget]
        yield piece[0][0], piece[-1][1], len(piece)
