"""Where a new loop's file starts: at its steadiest frame pair, on a sample near zero.

A seamless loop has no seam anywhere, so where its file starts does not change how it sounds
repeated; it does change what a player hears that starts it cold, fades its ends, or crossfades
a loop region, and where an editor shows the wrap. A new loop is generated from its cut, where a
one-shot puts its attack (:class:`~audiodiff.operations.windows.Canvas`), and a file that starts
on an attack puts the loop's largest change at the wrap; so its file is turned to start where
the sound changes least: between the frame pair of least spectral flux (:func:`steadiest_turn`),
then, within half a hop of it, between the two neighbouring samples nearest to zero
(:func:`quietest_sample`). Loops made from a user's input (``vary``, ``inpaint``, ``extend``
with ``loop``) keep the input's alignment and are not turned.
"""

from __future__ import annotations

import torch
from torch import Tensor


def steadiest_turn(mel: Tensor) -> int:
    """The turn ``r`` (frames) that makes ``mel.roll(-r, -1)`` start at the circle's steadiest pair.

    ``mel [..., n_mels, frames]`` is a circle; the pair ``(j, j + 1)`` (modulo ``frames``) of
    least mean absolute difference is found over all leading items, and ``r = j + 1``, so the
    turned circle's wrap joins frame ``frames - 1`` (old ``j``) to frame 0 (old ``j + 1``).
    """
    frames = mel.shape[-1]
    flux = (mel.roll(-1, -1) - mel).abs().mean(-2).reshape(-1, frames).mean(0)  # [frames]: pair j -> j + 1
    return (int(flux.argmin()) + 1) % frames


def quietest_sample(audio: Tensor, reach: int) -> int:
    """The turn ``d`` in ``[-reach, reach]`` (samples) that makes ``audio.roll(-d, -1)`` start
    between the two neighbouring samples nearest to zero.

    ``audio [..., samples]`` is one period of a loop; the candidates are the pairs
    ``(s - 1, s)`` for ``s`` within ``reach`` of 0 (modulo ``samples``), scored by the larger
    magnitude of the two (the largest over leading items), so the turned loop's first sample and
    the step into it from its last are both small. Ties go to the smallest ``|d|``.
    """
    samples = audio.shape[-1]
    reach = min(reach, (samples - 1) // 2)
    flat = audio.reshape(-1, samples).abs()
    order = torch.arange(-reach, reach + 1)
    order = order[order.abs().argsort(stable=True)]  # 0, -1, 1, -2, 2, ...: ties go to the nearest
    score = torch.maximum(flat[:, (order - 1) % samples], flat[:, order % samples]).amax(0)
    return int(order[int(score.argmin())])
