"""Sound-design operations as thin compositions over the samplers (see ``DESIGN.md``).

Each operation takes a :class:`~audiodiff.pipeline.Pipeline` first and returns a
:class:`~audiodiff.pipeline.Generation`. None has a sampling loop of its own: they choose where a
sampler starts (:mod:`.noise`), which denoiser it sees (:mod:`.windows` for any length and loops,
:mod:`.regions` for known regions) and how the mel becomes audio (:mod:`.signal`), so every
sampler works with every operation and the operations compose (a looped continuation is a known
region on a circle).
"""

from audiodiff.operations.generation import bars_to_seconds, generate_long
from audiodiff.operations.inpainting import extend, inpaint
from audiodiff.operations.interpolation import interpolate
from audiodiff.operations.noise import lerp_conditioning, slerp, strength_tail
from audiodiff.operations.variation import vary
from audiodiff.operations.windows import Canvas

__all__ = ["Canvas", "bars_to_seconds", "extend", "generate_long", "inpaint", "interpolate",
           "lerp_conditioning", "slerp", "strength_tail", "vary"]
