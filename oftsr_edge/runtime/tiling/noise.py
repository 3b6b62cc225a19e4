"""The model's noise input ε as a pure function of (seed, HR pixel position), drawn in bounded memory (docs/architecture.md §6).

The HR plane is cut into fixed ``block × block`` squares. The square at block row ``by``, block column ``bx`` is

    raw   = Philox(key=[seed, by·2³² + bx]).random_raw(3·block²/4)      (counter from 0; numpy's Philox-4×64)
    codes = the 16-bit words of ``raw``, least significant first
    ε     = Q[codes].reshape(3, block, block),   Q[k] = Φ⁻¹((k + ½) / 65536)  (float32, standard-normal quantiles)

Any tile's noise is assembled from the squares it covers, so overlapping tiles see identical values, the output does
not depend on the tiling (up to the blend), and a static video frame with a fixed seed gets the same noise every
frame. Only squares that a later tile still needs are kept, instead of 12 bytes per HR pixel for the whole plane.

Why a quantile table instead of ``Generator.standard_normal``: it is three times cheaper (one table look-up per
value; the ziggurat sampler costs about 0.045 s per HR megapixel here, a third of a tiny model's inference time),
and the stream is fixed by Philox's raw output alone, which numpy keeps stable across versions (its samplers may
change). The price is a 16-bit quantised normal: values lie in ±4.32, variance 0.99998 — no model trained on
``randn`` noise can tell (|ε| > 4.32 has probability 1.5e-5).
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
from statistics import NormalDist

import numpy as np

#: HR pixels per side of one noise block. Part of the reproducibility contract: changing it changes every output.
NOISE_BLOCK = 64
CHANNELS = 3


@functools.lru_cache(maxsize=1)
def quantile_table() -> np.ndarray:
    """Q[k] = Φ⁻¹((k + ½) / 65536) for k in 0…65535, float32 (computed once, a few ms, with the stdlib)."""
    half = np.array(list(map(NormalDist().inv_cdf, (np.arange(32768) + 0.5) / 65536.0)), dtype=np.float32)
    return np.concatenate([half, -half[::-1]])  # Φ⁻¹(1 − p) = −Φ⁻¹(p) exactly: half the start-up cost


class NoiseField:
    """Standard-normal noise over the whole (unbounded) HR plane for one seed, served region by region.

    ``seed`` is an integer in [0, 2**64), already checked by :func:`oftsr_edge.runtime.checks.check_seed`.
    """

    def __init__(self, seed: int, block: int = NOISE_BLOCK) -> None:
        if block < 1:
            raise ValueError(f"noise block must be positive, got {block}")
        self.seed = int(seed)
        self.block = block
        self._cache: dict[tuple[int, int], np.ndarray] = {}
        self._table = quantile_table()

    def draw_block(self, by: int, bx: int) -> np.ndarray:
        """The (3, block, block) square at block row ``by``, column ``bx``: the definition of the noise."""
        if not (0 <= by < 2**32 and 0 <= bx < 2**32):
            raise ValueError(f"noise block index out of range: ({by}, {bx})")
        count = CHANNELS * self.block * self.block
        key = np.array([self.seed, (by << 32) | bx], dtype=np.uint64)
        raw = np.random.Philox(key=key).random_raw(-(-count // 4))
        codes = raw.astype("<u8", copy=False).view("<u2")[:count]
        return self._table[codes].reshape(CHANNELS, self.block, self.block)

    def fill(
        self,
        out: np.ndarray,
        y0: int,
        x0: int,
        keep_rows_from: int | None = None,
        keep_cols_from: int | None = None,
    ) -> np.ndarray:
        """Write the noise of HR rows ``y0…`` and columns ``x0…`` into ``out`` (shape (3, h, w)) and return it.

        A block is cached for later calls only if it reaches HR row ``keep_rows_from`` or column ``keep_cols_from``
        (where the next tile row / next tile starts); the caller knows the tiling, the field does not. ``None`` keeps
        nothing.
        """
        _, h, w = out.shape
        b = self.block
        for by in range(y0 // b, (y0 + h - 1) // b + 1):
            ya, yb = max(y0, by * b), min(y0 + h, (by + 1) * b)
            keep_row = keep_rows_from is not None and (by + 1) * b > keep_rows_from
            for bx in range(x0 // b, (x0 + w - 1) // b + 1):
                xa, xb = max(x0, bx * b), min(x0 + w, (bx + 1) * b)
                block = self._cache.get((by, bx))
                if block is None:
                    block = self.draw_block(by, bx)
                    if keep_row or (keep_cols_from is not None and (bx + 1) * b > keep_cols_from):
                        self._cache[(by, bx)] = block
                out[:, ya - y0 : yb - y0, xa - x0 : xb - x0] = block[
                    :, ya - by * b : yb - by * b, xa - bx * b : xb - bx * b
                ]
        return out

    def fill_parallel(self, out: np.ndarray, y0: int, x0: int, workers: int = 2) -> np.ndarray:
        """:meth:`fill` (caching nothing) split into ``workers`` bands of block rows drawn on threads: Philox and
        the table look-up release the GIL, so a whole image's noise takes about 1/workers of the time."""
        _, h, _ = out.shape
        b = self.block
        first, last = y0 // b, (y0 + h - 1) // b
        if workers < 2 or last == first:
            return self.fill(out, y0, x0)
        cuts = sorted({y0, y0 + h, *(max(y0, (first + (last - first + 1) * k // workers) * b) for k in range(1, workers))})
        parts = [(a, z) for a, z in zip(cuts, cuts[1:]) if z > a]
        pool = _pool(workers)
        list(pool.map(lambda part: self.fill(out[:, part[0] - y0 : part[1] - y0], part[0], x0), parts))
        return out

    def region(self, y0: int, x0: int, h: int, w: int) -> np.ndarray:
        """A fresh (3, h, w) array of the noise at HR rows ``y0…y0+h`` and columns ``x0…x0+w``."""
        return self.fill(np.empty((CHANNELS, h, w), dtype=np.float32), y0, x0)

    def release_rows_before(self, y: int) -> None:
        """Forget cached blocks that lie entirely above HR row ``y``: no later tile needs them."""
        b = self.block
        for key in [k for k in self._cache if (k[0] + 1) * b <= y]:
            del self._cache[key]

    def release_cols_before(self, x: int, keep_rows_from: int | None) -> None:
        """Forget cached blocks entirely left of HR column ``x`` unless they reach row ``keep_rows_from``."""
        b = self.block
        limit = keep_rows_from if keep_rows_from is not None else 2**62
        for key in [k for k in self._cache if (k[1] + 1) * b <= x and (k[0] + 1) * b <= limit]:
            del self._cache[key]

    def clear(self) -> None:
        self._cache.clear()

    @property
    def cached_blocks(self) -> int:
        return len(self._cache)


@functools.lru_cache(maxsize=4)
def _pool(workers: int) -> ThreadPoolExecutor:
    """One small thread pool per worker count, kept for the process (noise is drawn once per image or tile)."""
    return ThreadPoolExecutor(workers, thread_name_prefix="oftsr-noise")


class NoiseCache:
    """The last whole-image noise array, kept for the next call of the same size and seed.

    Why: a folder of photos from one camera, video frames and repeated calls share the HR size and (by default)
    the seed, so their noise is identical; drawing it again costs about 8 ms per output MP. Arrays above
    ``max_bytes`` are never kept (a huge image's noise would outlive its call). The array is read-only: backends
    only read their inputs.
    """

    def __init__(self, max_bytes: int = 256 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._key: tuple[int, int, int, int] | None = None
        self._value: np.ndarray | None = None

    def get(self, seed: int, height: int, width: int, block: int = NOISE_BLOCK) -> np.ndarray:
        """(1, 3, height, width) float32 noise of the HR region at the origin for ``seed``."""
        key = (seed, height, width, block)
        if self._key == key and self._value is not None:
            return self._value
        value = np.empty((1, CHANNELS, height, width), dtype=np.float32)
        NoiseField(seed, block).fill_parallel(value[0], 0, 0)
        value.flags.writeable = False
        if value.nbytes <= self.max_bytes:
            self._key, self._value = key, value
        return value

    def clear(self) -> None:
        self._key = self._value = None
