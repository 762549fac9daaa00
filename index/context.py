"""Context for prompts: passages as a numbered, cited block that fits a token budget.

A chatbot puts `Context.text` into its prompt and lists `Context.citations` under its answer;
`[n]` in the text is citation number n. Tokens are counted with the embedding model's tokenizer
unless the caller passes its own counter (its chat model's, say). The budget is never exceeded:
passages are taken best first, the first one that does not fit whole is cut after its last
sentence that fits, or left out when not even one does, and nothing after it is added.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache, partial

import sentencex
from pydantic import BaseModel, Field

from index.model import ModelInfo, load_tokenizer
from index.models import Passage
from index.pages import pages_label

SEPARATOR = "\n\n"


class Citation(BaseModel):
    """Where the text numbered `[number]` in a context comes from."""

    number: int
    doc_id: str
    source: str
    title: str = ""
    url: str | None = None
    start: int = Field(description="Offset of the cited text in the cleaned document.")
    end: int = Field(description="End of the cited text: short of the passage's end if cut.")
    truncated: bool = Field(False, description="Whether the passage was cut to fit the budget.")
    page: int | None = Field(None, description="The page the passage starts on, from 1.")
    last_page: int | None = Field(None, description="The page the passage ends on.")


class Context(BaseModel):
    """A numbered, cited context block and its citations, within `max_tokens`."""

    text: str
    citations: list[Citation]
    tokens: int = Field(description="Tokens in `text`, as counted for the budget.")
    max_tokens: int


@lru_cache(maxsize=4)
def model_token_counter(model: str) -> Callable[[str], int]:
    """Counts tokens the way the embedding model `model` (a setting value) tokenizes."""
    tokenizer = load_tokenizer(ModelInfo.from_setting(model).path)

    def count(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False).ids)

    return count


def build_context(
    passages: Sequence[Passage],
    max_tokens: int = 1500,
    *,
    count_tokens: Callable[[str], int] | None = None,
    model: str | None = None,
) -> Context:
    """Number and cite `passages` (best first) into at most `max_tokens` tokens.

    `count_tokens` defaults to the tokenizer of `model` (default: the configured model).
    """
    if max_tokens < 1:
        raise ValueError("max_tokens must be at least 1")
    if count_tokens is None:
        if model is None:
            from index.settings import IndexSettings

            model = IndexSettings().model
        count_tokens = model_token_counter(model)
    blocks: list[str] = []
    citations: list[Citation] = []

    def fits(header: str, body: str) -> bool:
        return count_tokens(SEPARATOR.join([*blocks, f"{header}\n{body}"])) <= max_tokens

    for number, passage in enumerate(passages, start=1):
        header = _header(number, passage)
        text = passage.text
        truncated = False
        if not fits(header, text):
            text = _longest_fitting_prefix(text, partial(fits, header))
            truncated = True
        if text:
            blocks.append(f"{header}\n{text}")
            citations.append(_citation(number, passage, len(text), truncated))
        if truncated:
            break
    joined = SEPARATOR.join(blocks)
    return Context(
        text=joined, citations=citations, tokens=count_tokens(joined), max_tokens=max_tokens
    )


def _header(number: int, passage: Passage) -> str:
    where = passage.url or passage.source
    pages = pages_label(passage.page, passage.last_page)
    if pages:
        where = f"{where}, {pages}"
    return f"[{number}] {passage.title} ({where})" if passage.title else f"[{number}] {where}"


def _longest_fitting_prefix(text: str, fits: Callable[[str], bool]) -> str:
    """The longest run of whole sentences from the start of `text` that fits, or ''."""
    ends = sorted(
        {
            len(text[: boundary["end_index"]].rstrip())
            for boundary in sentencex.get_sentence_boundaries("en", text)
            if not boundary["is_paragraph_break"]
        }
        - {0}
    )
    best, low, high = "", 0, len(ends) - 1
    while low <= high:  # more sentences never take fewer tokens: search for the last that fits
        middle = (low + high) // 2
        prefix = text[: ends[middle]]
        if fits(prefix):
            best, low = prefix, middle + 1
        else:
            high = middle - 1
    return best


def _citation(number: int, passage: Passage, length: int, truncated: bool) -> Citation:
    return Citation(
        number=number,
        doc_id=passage.doc_id,
        source=passage.source,
        title=passage.title,
        url=passage.url,
        start=passage.start,
        end=passage.start + length,
        truncated=truncated,
        page=passage.page,
        last_page=passage.last_page,
    )
