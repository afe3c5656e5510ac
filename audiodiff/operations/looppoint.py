"""Where a new loop's file starts: at its steadiest frame pair, on a sample near zero.

A seamless loop has no seam anywhere, so where its file starts does not change how it sounds
repeated; it does change what a player hears that starts it cold, fades its ends, or crossfades
a loop region, and where an editor shows the wrap. A generated loop's content lies anywhere on
its circle (the windows turn on every step), so its file is turned to start where the sound
changes least: between the frame pair of least spectral flux (:func:`steadiest_turn`), then,
within half a hop of it, between the two neighbouring samples nearest to zero
(:func:`quietest_sample`). Loops made from a user's input (``vary``, ``inpaint``, ``extend``
with ``loop``) keep the input's alignment and are not turned.
"""

from __future__ import annotations

from torch import Tensor


def steadiest_turn(mel: Tensor) -> int:
    """The turn ``r`` (frames) that makes ``mel.roll(-r, -1)`` start at the circle's steadiest pair.

    ``mel [..., n_mels, frames]`` is a circle; the pair ``(j, j + 1)`` (modulo ``frames``) of
    least mean absolute difference is found over all leading items, and ``r = j + 1``, so the
    turned circle's wrap joins frame ``frames - 1`` (old ``j``) to frame 0 (old ``j + 1``).
    """
    flux = (mel.roll(-1, -1) - mel).abs().mean(-2)  # [..., frames]: pair j -> j + 1
    while flux.dim() > 1:
        flux = flux.mean(0)
    return (int(flux.argmin()) + 1) % mel.shape[-1]


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
    best, best_score = 0, None
    for d in sorted(range(-reach, reach + 1), key=abs):
        score = float(flat[:, [(d - 1) % samples, d % samples]].amax())
        if best_score is None or score < best_score:
            best, best_score = d, score
    return best
