"""Training text made from the project's own files: no download, the same on every machine."""

from __future__ import annotations

from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
SOURCES = ("README.md", "tracker", "tui", "demo", "configs")


def corpus(root: Path = PROJECT) -> str:
    """The concatenated text of the project's Python, Markdown and config files, in a stable order."""
    parts = []
    for name in SOURCES:
        path = root / name
        files = [path] if path.is_file() else sorted(path.rglob("*"))
        for f in files:
            if f.is_file() and f.suffix in (".py", ".md", ".yaml", ".tcss") and "__pycache__" not in f.parts:
                parts.append(f.read_text(encoding="utf-8", errors="replace"))
    text = "\n".join(parts)
    if len(text) < 10_000:
        raise RuntimeError(f"demo corpus too small ({len(text)} chars): run from a full checkout")
    return text


class CharData:
    """Character vocabulary and a 90/10 train/validation split as tensors of token ids."""

    def __init__(self, text: str) -> None:
        import torch

        self.chars = sorted(set(text))
        self.stoi = {c: i for i, c in enumerate(self.chars)}
        ids = torch.tensor([self.stoi[c] for c in text], dtype=torch.long)
        cut = int(len(ids) * 0.9)
        self.train, self.val = ids[:cut], ids[cut:]

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        return [self.stoi.get(c, 0) for c in text]

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in ids)

    def batch(self, split: str, batch_size: int, block_size: int, generator):
        """A random batch of (inputs, next-character targets)."""
        import torch

        data = self.train if split == "train" else self.val
        starts = torch.randint(len(data) - block_size - 1, (batch_size,), generator=generator)
        x = torch.stack([data[s : s + block_size] for s in starts])
        y = torch.stack([data[s + 1 : s + 1 + block_size] for s in starts])
        return x, y
