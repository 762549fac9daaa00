"""Sources: turn paths, streams and records into Documents, reporting bad input instead of raising.

Everything here is a generator; every failure is one line in the run report, and the rest goes on.

- `files`: walking folders and reading a file by its suffix;
- `records`: the one door from a JSON object (or a Python dict) to a Document;
- `jsonl`, `html`, `text`: the formats, and bytes to text;
- `inputs`: what `ingest()` accepts (paths, Documents, dicts) as one stream of Documents.
"""

from pipeline.sources.files import SUPPORTED_SUFFIXES, is_wanted, iter_files, read_file, read_paths
from pipeline.sources.inputs import Input, documents_from
from pipeline.sources.jsonl import read_jsonl_stream
from pipeline.sources.records import document_from_record, given_record, read_records

__all__ = [
    "SUPPORTED_SUFFIXES",
    "Input",
    "document_from_record",
    "documents_from",
    "given_record",
    "is_wanted",
    "iter_files",
    "read_file",
    "read_jsonl_stream",
    "read_paths",
    "read_records",
]
