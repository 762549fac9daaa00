"""LangChain's own standard retriever suite (langchain-tests) against RiverbedRetriever.

The suite's tests are LangChain's, inherited unchanged (it checks that none is overridden): the
retriever honours `k` in its constructor and in `invoke(q, k=...)`, and returns Documents from
`invoke` and `ainvoke` (run by pytest-asyncio, `asyncio_mode = auto` in pyproject.toml). Real model, seeds index. tests/test_langchain_bounds.py runs this same
module against the lowest langchain-core that the `langchain` extra allows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_tests.integration_tests import RetrieversIntegrationTests

from index import Index
from riverbed.langchain import RiverbedRetriever
from tests.conftest import QUESTION


@pytest.fixture(scope="module")
def seeds_index(seeded_dir: Path) -> Any:
    with Index.open(seeded_dir) as index:
        yield index.warm()


class TestRiverbedRetrieverStandard(RetrieversIntegrationTests):
    @pytest.fixture(autouse=True)
    def _open_index(self, seeds_index: Index) -> None:
        self.index = seeds_index

    @property
    def retriever_constructor(self) -> type[RiverbedRetriever]:
        return RiverbedRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"index": self.index}

    @property
    def retriever_query_example(self) -> str:
        return QUESTION
