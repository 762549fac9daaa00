"""What a reader reads: a file on disk or bytes in memory (an attachment, a fetched page)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from pipeline.sources.names import name_of


@dataclass(frozen=True, slots=True)
class Blob:
    """One input of a known format, with the names its documents and failures will carry.

    `doc_id` and `source` are those of the document it becomes (a format holding several, such
    as a mailbox, derives theirs from them); `where` names it in the run report; `name` is a
    file name, for a title when the format has none.
    """

    data: Path | bytes
    doc_id: str
    source: str
    where: str
    name: str

    @classmethod
    def of_file(cls, path: Path) -> Blob:
        resolved = name_of(path.resolve())
        return cls(path, resolved, resolved, name_of(path), name_of(path.name))

    def open(self) -> BinaryIO:
        """A binary stream over the data (a file opened for reading, or the bytes)."""
        if isinstance(self.data, bytes):
            return io.BytesIO(self.data)
        return self.data.open("rb")

    def size(self) -> int:
        if isinstance(self.data, bytes):
            return len(self.data)
        return self.data.stat().st_size

    @property
    def stem(self) -> str:
        return Path(self.name).stem
