"""The cache's text arrays: caption embeddings streamed to disk a chunk at a time.

Row ``c`` of each array is caption ``c`` of the manifest: ``text_pooled.npy`` float16 ``[C, dim]``,
``text_tokens.npy`` float16 ``[C, max_tokens, dim]`` (zero after the caption's tokens) and
``text_lengths.npy`` int32 ``[C]``.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from audiodiff.conditioning import TEXT_ENCODERS, ConditionerConfig, TextConditioner
from audiodiff.data.cache_format import TEXT_ARRAYS, Cache
from audiodiff.fileio import NpyRowReader, NpyRowWriter

CHUNK = 256  # captions embedded and written per step


def encoder_settings(config: ConditionerConfig | None) -> dict[str, Any] | None:
    """The manifest's ``encoder`` entry (name, max_tokens, dim) for a text config, else ``None``."""
    if config is None or config.kind != "text":
        return None
    return {"name": config.encoder, "max_tokens": config.max_tokens,
            "dim": TEXT_ENCODERS[config.encoder]}


def write_caption_embeddings(
    captions: list[str], previous: Cache | None, config: ConditionerConfig, progress: bool, paths: list[Path]
) -> None:
    """Write the text arrays for ``captions`` to ``paths`` (see :data:`TEXT_ARRAYS`), a chunk at a
    time, copying the rows of ``previous`` for known captions and embedding only the new ones."""
    known = {c: i for i, c in enumerate(previous.captions)} if previous is not None else {}
    dim = TEXT_ENCODERS[config.encoder]
    shapes = [(dim,), (config.max_tokens, dim), ()]
    conditioner = None
    with contextlib.ExitStack() as stack:
        old = [stack.enter_context(NpyRowReader(previous.path / name)) for name in TEXT_ARRAYS] if known else []
        writers = [stack.enter_context(NpyRowWriter(path, shape, dtype))
                   for path, shape, dtype in zip(paths, shapes, (np.float16, np.float16, np.int32), strict=True)]
        for start in tqdm(range(0, len(captions), CHUNK), desc="captions", unit=f"x{CHUNK}", disable=not progress):
            chunk = captions[start : start + CHUNK]
            new = [c for c in chunk if c not in known]
            if new and conditioner is None:
                conditioner = TextConditioner(config)
            embedded = dict(zip(new, conditioner.embed_many(new), strict=True)) if new else {}
            for caption in chunk:
                if caption in embedded:
                    vector, sequence = embedded[caption]
                    tokens = np.zeros((config.max_tokens, dim), np.float16)
                    tokens[: len(sequence)] = sequence.numpy()
                    row = (vector.numpy(), tokens, np.int32(len(sequence)))
                else:
                    row = tuple(array[known[caption]] for array in old)
                for writer, value in zip(writers, row, strict=True):
                    writer.append(value)
        for writer in writers:
            writer.finish()
