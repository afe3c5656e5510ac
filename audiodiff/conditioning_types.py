"""The conditioning carried from a conditioner to a network."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class Conditioning:
    """Embeddings for a batch of ``n`` requests.

    Attributes:
        pooled: ``[n, d]`` one vector per request (drives FiLM / adaptive norm).
        tokens: ``[n, t, d_tok]`` token embeddings for cross-attention, or ``None``.
        mask: ``[n, t]`` bool, ``True`` where a token is real; ``None`` when ``tokens`` is ``None``.
    """

    pooled: Tensor
    tokens: Tensor | None = None
    mask: Tensor | None = None

    def __post_init__(self) -> None:
        if (self.tokens is None) != (self.mask is None):
            raise ValueError("tokens and mask must be given together")
        if self.tokens is not None and self.tokens.shape[:2] != self.mask.shape:
            raise ValueError(f"mask {tuple(self.mask.shape)} does not match tokens {tuple(self.tokens.shape)}")

    def __len__(self) -> int:
        return self.pooled.shape[0]

    def to(self, device: torch.device | str, dtype: torch.dtype | None = None) -> Conditioning:
        def move(t: Tensor | None) -> Tensor | None:
            return None if t is None else t.to(device=device, dtype=dtype if t.is_floating_point() else None)

        return Conditioning(move(self.pooled), move(self.tokens), None if self.mask is None else self.mask.to(device))

    def select(self, index: Tensor | slice) -> Conditioning:
        """Rows ``index`` of every field."""
        return Conditioning(
            self.pooled[index],
            None if self.tokens is None else self.tokens[index],
            None if self.mask is None else self.mask[index],
        )

    @staticmethod
    def cat(items: list[Conditioning]) -> Conditioning:
        """Concatenate along the batch, padding token sequences to the longest (padding masked out)."""
        pooled = torch.cat([c.pooled for c in items])
        if all(c.tokens is None for c in items):
            return Conditioning(pooled)
        if any(c.tokens is None for c in items):
            raise ValueError("cannot concatenate conditionings with and without tokens")
        length = max(c.tokens.shape[1] for c in items)
        tokens = torch.cat([torch.nn.functional.pad(c.tokens, (0, 0, 0, length - c.tokens.shape[1])) for c in items])
        mask = torch.cat([torch.nn.functional.pad(c.mask, (0, length - c.mask.shape[1])) for c in items])
        return Conditioning(pooled, tokens, mask)

    def where(self, keep: Tensor, other: Conditioning) -> Conditioning:
        """Row-wise choice: rows where ``keep`` ([n] bool) is True come from ``self``, others from ``other``."""
        both = Conditioning.cat([self, other])
        n = len(self)
        rows = torch.where(keep.to(self.pooled.device), torch.arange(n, device=self.pooled.device),
                           torch.arange(n, 2 * n, device=self.pooled.device))
        return both.select(rows)
