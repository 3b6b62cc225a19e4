"""Tiled one-step upscaling whose output does not depend on the tiling (docs/architecture.md §6), in bounded memory.

The one owner of tiling: :mod:`.policy` (``TilingPolicy``: which tiling an image gets, the budget read per image,
the tiler cache and a frame stream's tiler), :mod:`.memory_plan` (the memory model and ``plan_tiles``) and
:mod:`.noise` (the noise field). The three modules a run goes through, in order:

- :mod:`.geometry` — where tiles go: tile starts (multiples of the model's ``multiple_of``, spread evenly, the last
  one flush with the border, so every tile has one shape) and the padding of each axis.
- :mod:`.blending` — how overlapping HR tiles become one image: raised-cosine weights normalised to sum to one, a
  float32 band of rows that is converted to the output as soon as no later tile touches it.
- :mod:`.tiler` — :class:`~oftsr_edge.runtime.tiling.tiler.Tiler`: cuts the LR image, draws each tile's noise,
  batches tiles into backend calls (pipelined) and hands the results to the blending band.

The tiler trusts its arguments: :class:`~oftsr_edge.runtime.settings.Settings` checks ``t``, the seed, the tile and
the overlap when it is made, and the :class:`~oftsr_edge.runtime.upscaler.Upscaler` checks each image, before any of
this runs.
"""
