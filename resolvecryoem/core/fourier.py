"""Fourier transforms and resolution shells on the half spectrum of real maps.

Maps are float32 arrays indexed (z, y, x) with the voxel size in A per axis (x, y, z order is
NOT used here: ``voxel_size`` follows the array axes, (vz, vy, vx)).  Spectra are complex64
``rfftn`` half spectra; the last axis holds kx = 0 .. N/2.  Compute a map's spectrum once with
:func:`rfft` and pass it along.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft

from .parallel import map_slabs


def rfft(rho: np.ndarray, threads: int = 1) -> np.ndarray:
    """Half spectrum of a real map, complex64 (unnormalised forward transform)."""
    return scipy.fft.rfftn(np.asarray(rho, dtype=np.float32), workers=threads)


def irfft(F: np.ndarray, shape, threads: int = 1, overwrite: bool = False) -> np.ndarray:
    """Real map (float32) of a half spectrum; ``shape`` is the map's shape.  ``overwrite``:
    F is a temporary the transform may work in (saves a spectrum-sized copy)."""
    shape = tuple(int(n) for n in shape)
    if overwrite and F.ndim == 3 and F.dtype == np.complex64 and F.flags.c_contiguous:
        # pocketfft's inverse over three axes makes a complex temporary of the whole spectrum
        # beside input and output (4 bytes per voxel, not seen by tracemalloc).  On the
        # caller's temporary: the first two axes in place, then the last one alone, 1/N
        # applied at the very end as pocketfft does (bit-identical, and a little faster).
        G = scipy.fft.ifftn(F, axes=(0, 1), workers=threads, overwrite_x=True, norm="forward")
        del F
        out = scipy.fft.irfft(G, n=shape[-1], axis=-1, workers=threads, overwrite_x=True,
                              norm="forward")
        del G
        out *= np.float32(np.longdouble(1) / np.longdouble(int(np.prod(shape))))
        return out.astype(np.float32, copy=False)
    return scipy.fft.irfftn(F, s=shape, workers=threads, overwrite_x=overwrite).astype(
        np.float32, copy=False)


def frequencies(shape, voxel_size):
    """Spatial frequencies (1/A) along each axis of the half spectrum, as broadcastable arrays."""
    vz, vy, vx = np.broadcast_to(np.asarray(voxel_size, dtype=np.float64), (3,))
    nz, ny, nx = shape
    fz = scipy.fft.fftfreq(nz, d=vz).astype(np.float32)[:, None, None]
    fy = scipy.fft.fftfreq(ny, d=vy).astype(np.float32)[None, :, None]
    fx = scipy.fft.rfftfreq(nx, d=vx).astype(np.float32)[None, None, :]
    return fz, fy, fx


def half_spectrum_multiplicity(shape) -> np.ndarray:
    """How many coefficients of the full spectrum each half-spectrum entry stands for.

    2 for 0 < kx < N/2 (its Friedel mate is not stored), 1 on the kx = 0 plane and, for even N,
    on the kx = N/2 plane.  Shape broadcastable to the half spectrum (1, 1, nx//2 + 1).
    """
    nx = shape[-1]
    m = np.full(nx // 2 + 1, 2.0, dtype=np.float32)
    m[0] = 1.0
    if nx % 2 == 0:
        m[-1] = 1.0
    return m[None, None, :]


# Coefficients per slab for Shells.sum / sum_products / expand.
SLAB_COEFFICIENTS = 1 << 18


@dataclass
class Shells:
    """Resolution shells of a half spectrum, computed once per box and passed along.

    ``index``: shell of each coefficient (uint16, half-spectrum shape; shells beyond the
    corner of the box are clipped into the last shell).  ``s``: centre of each shell in 1/A.
    ``count``: number of full-spectrum coefficients per shell (multiplicity included).
    ``s_grid``: |s| of each coefficient in 1/A (float32), made when asked for (not kept:
    2 bytes per voxel); :meth:`s_slab` gives it a slab at a time.
    """

    shape: tuple
    voxel_size: np.ndarray
    index: np.ndarray
    s: np.ndarray
    count: np.ndarray
    freq: tuple  # (fz, fy, fx) of :func:`frequencies`
    weight: np.ndarray  # multiplicity, broadcastable to the half spectrum

    @classmethod
    def for_box(cls, shape, voxel_size, n_shells: int | None = None) -> "Shells":
        shape = tuple(int(n) for n in shape)
        vs = np.broadcast_to(np.asarray(voxel_size, dtype=np.float64), (3,)).copy()
        freq = frequencies(shape, vs)
        # Shell width: one Fourier pixel of the longest box edge; shells reach Nyquist of the
        # coarsest axis (beyond that, corners only).
        width = 1.0 / float(np.max(np.asarray(shape) * vs))
        s_max = 0.5 / float(vs.max())
        if n_shells is None:
            n_shells = max(2, int(round(s_max / width)))
        width = s_max / n_shells
        weight = half_spectrum_multiplicity(shape)
        half = shape[:-1] + (shape[-1] // 2 + 1,)
        index = np.empty(half, np.uint16 if n_shells <= 1 << 16 else np.int32)
        count = np.zeros(n_shells)
        slabs = slabs_of(half)
        # The slab's multiplicities in float64 and its indices in intp, the types bincount
        # works in (given float32 weights it converts them on every call, 3x slower).
        mult = np.broadcast_to(weight, (slabs[0].stop,) + half[1:]).astype(np.float64).ravel()
        k = np.empty(mult.size, np.intp)
        for sl in slabs:  # no full-size float temporaries
            x = _s_slab(freq, sl)
            x /= width
            ks = k[:x.size].reshape(x.shape)
            np.copyto(ks, x, casting="unsafe")  # truncation, as astype(int)
            np.minimum(ks, n_shells - 1, out=ks)
            index[sl] = ks
            count += np.bincount(ks.ravel(), weights=mult[:x.size], minlength=n_shells)
        s = (np.arange(n_shells) + 0.5) * width
        return cls(shape, vs, index, s, count, freq, weight)

    @property
    def s_grid(self) -> np.ndarray:
        """|s| (1/A, float32) of every coefficient: a new array on each call."""
        return _s_slab(self.freq, slice(None))

    def s_slab(self, sl: slice) -> np.ndarray:
        """|s| (1/A, float32) of the coefficients of one slab (``s_grid[sl]``)."""
        return _s_slab(self.freq, sl)

    def s_between(self, above: float, up_to: float, threads: int = 1) -> np.ndarray:
        """Boolean mask (half-spectrum shape) of the coefficients with above < |s| <= up_to
        (1/A), made slab by slab (no |s| grid of the whole spectrum)."""
        out = np.empty(self.index.shape, bool)

        def slab(sl):
            s = self.s_slab(sl)
            np.logical_and(s > above, s <= up_to, out=out[sl])

        map_slabs(slab, self.slabs(), threads)
        return out

    @property
    def n(self) -> int:
        return len(self.s)

    @property
    def resolution(self) -> np.ndarray:
        """Resolution (A) at the centre of each shell."""
        return 1.0 / self.s

    def slabs(self) -> list:
        """Slices along the first axis of about SLAB_COEFFICIENTS coefficients each: shell
        sums and expansions go slab by slab, so their temporaries stay small (bincount
        converts indices and weights to 64 bits: 12 bytes per coefficient at once otherwise)."""
        return slabs_of(self.index.shape)

    def sum(self, values: np.ndarray, threads: int = 1) -> np.ndarray:
        """Sum over each shell of a real half-spectrum quantity, Friedel mates included."""
        values = np.broadcast_to(values, self.index.shape)
        dtype = np.result_type(values.dtype, self.weight.dtype)

        def one(sl, work):
            v = work.buffer("sum", dtype, values[sl].shape)
            np.multiply(values[sl], self.weight, out=v)
            return work.bincount(self.index[sl], v, self.n)
        return _in_order_sum(self.map_slabs(one, threads=threads, buffers=[("sum", dtype)]),
                             self.n)

    def sum_products(self, A: np.ndarray, B: np.ndarray | None = None,
                     threads: int = 1) -> np.ndarray:
        """Per-shell sum of Re(A conj(B)) (|A|^2 without B), Friedel mates included; slab by
        slab, with no full-size temporary."""
        return self.sum_products_many([(A, B)], threads)[0]

    def sum_products_many(self, pairs, threads: int = 1) -> np.ndarray:
        """:meth:`sum_products` of several (A, B or None) pairs in one pass over the slabs,
        (len(pairs), n): a spectrum shared by several pairs is read once per slab while it
        is in cache, and each slab's shell indices are converted once.  Slabs run on
        ``threads`` threads; their partial sums are added in slab order, so the result is
        the same for any number of threads (and the same as one pair at a time).

        Rows ky and -ky of a slab lie in the same shells (|s| depends on ky^2 alone): their
        products are added pairwise (in float64) before the shell sums, so bincount, which
        costs as much as the products, sees half the coefficients."""
        pairs = [(A, B) for A, B in pairs]
        ny = self.index.shape[1]
        h, p = ny // 2 + 1, (ny - 1) // 2  # rows 0 .. ny/2 kept; rows 1 .. p have a mate

        def one(sl, work):
            idx = self.index[sl]
            half = (idx.shape[0], h, idx.shape[2])
            work.load_index(idx[:, :h])
            out = np.empty((len(pairs), self.n))
            for q, (A, B) in enumerate(pairs):
                a = A[sl]
                b = a if B is None else B[sl]
                v, t = work.f32(a.shape, 0), work.f32(a.shape, 1)
                np.multiply(a.real, b.real, out=v)
                np.multiply(a.imag, b.imag, out=t)
                v += t
                w = work.weights(half)
                w[:, 0] = v[:, 0]
                np.add(v[:, 1:p + 1], v[:, ny - p:][:, ::-1], out=w[:, 1:p + 1],
                       dtype=np.float64)
                if ny % 2 == 0:
                    w[:, ny // 2] = v[:, ny // 2]
                out[q] = work.bincount_loaded(w, self.weight, self.n)
            return out
        return _in_order_sum(self.map_slabs(one, threads=threads), (len(pairs), self.n))

    def mean(self, values: np.ndarray, threads: int = 1) -> np.ndarray:
        return self.sum(values, threads) / np.maximum(self.count, 1)

    def expand(self, per_shell: np.ndarray, threads: int = 1) -> np.ndarray:
        """A per-shell quantity put onto every coefficient (float32, half-spectrum shape).

        Linear interpolation between shell centres, so that scale factors have no steps.  The
        origin shell (the map's mean, one coefficient) is kept out of the interpolation: its
        statistics are of a single number and must not leak into the lowest shells.
        """
        out = np.empty(self.index.shape, np.float32)

        def one(sl, work, v):
            out[sl] = v
        self.map_slabs(one, per_shell, threads=threads)
        return out

    def expand_slabs(self, *per_shell):
        """(slab, expanded values...) for each of :meth:`slabs`: :meth:`expand` of each
        per-shell quantity, a slab at a time (float32), for products computed slab by slab.
        The values are buffers reused for the next slab: use them before asking for it."""
        interp = _ShellInterpolation(self, per_shell)
        work = _SlabWork(self, interp.buffers())
        for sl in self.slabs():
            yield (sl, *interp.slab(sl, work))

    def map_slabs(self, fn, *per_shell, threads: int = 1, buffers=()) -> list:
        """``[fn(sl, work, *expanded) for sl in slabs()]`` on ``threads`` threads
        (core.parallel.map_slabs): ``work`` is a :class:`_SlabWork` (slab-sized buffers) that
        no other thread uses during the call, ``expanded`` :meth:`expand` of each per-shell
        quantity on the slab (buffers of that work).  ``buffers``: (name, dtype) of the
        named buffers ``fn`` asks the work for.  ``fn`` writes only to its own slab of any
        shared output."""
        interp = _ShellInterpolation(self, per_shell) if per_shell else None
        names = list(buffers) + (interp.buffers() if interp is not None else [])

        def run(sl, work):
            vals = interp.slab(sl, work) if interp is not None else ()
            return fn(sl, work, *vals)
        return map_slabs(run, self.slabs(), threads, lambda: _SlabWork(self, names))

    def significance(self) -> np.ndarray:
        """2 / sqrt(number of coefficients): an FSC below this is indistinguishable from 0."""
        return 2.0 / np.sqrt(np.maximum(self.count / 2.0, 1.0))


def slabs_of(shape) -> list:
    """Slices along the first axis of about SLAB_COEFFICIENTS elements each, for an array of
    ``shape`` (a half spectrum, or a map)."""
    per = int(np.prod(shape[1:]))
    step = max(1, SLAB_COEFFICIENTS // max(per, 1))
    return [slice(a, a + step) for a in range(0, shape[0], step)]


def _s_slab(freq, sl: slice) -> np.ndarray:
    fz, fy, fx = freq
    fz = fz[sl]
    return np.sqrt(fz * fz + fy * fy + fx * fx)


def _in_order_sum(parts, shape) -> np.ndarray:
    """Per-slab partial sums added in slab order (the same result for any thread count)."""
    out = np.zeros(shape)
    for p in parts:
        out += p
    return out


class _ShellInterpolation:
    """Linear interpolation of per-shell tables between shell centres, by arithmetic.

    The shells are uniform in |s| (width w, centres (k + 1/2) w), so the position of a
    coefficient among the centres is x = |s| / w - 1/2, clipped to [1, n - 1] (below 1: the
    origin shell stays out of the interpolation; beyond the last centre the last value, as
    np.interp does), and the value t[i] + (x - i) (t[i+1] - t[i]) with i = floor(x): two
    table lookups instead of np.interp's binary search per coefficient (about 4x faster at
    400^3).  The same float64 arithmetic as np.interp on the same float32 positions, so the
    same values as np.interp(x, arange(n), t).astype(float32).  The origin coefficient gets
    t[0].
    """

    def __init__(self, shells: Shells, per_shell):
        self.shells = shells
        self.width = shells.s[1] - shells.s[0]
        self.top = np.float32(shells.n - 1)
        self.tables = []
        for p in per_shell:
            t = np.asarray(p, dtype=np.float64)
            # t[i] and the slope t[i+1] - t[i]; 0 at i = n - 1 (x = n - 1 is t[n - 1] itself)
            self.tables.append((t, np.append(np.diff(t), 0.0), np.float32(t[0])))

    def buffers(self) -> list:
        """(name, dtype) of the named work buffers :meth:`slab` uses: the float64 scratch
        and one float32 output per table (its other scratch is the work's float32 pair and
        index buffer, free again when it returns)."""
        return [("interp_t", np.float64)] + [(f"expanded_{k}", np.float32)
                                             for k in range(len(self.tables))]

    def slab(self, sl: slice, work: "_SlabWork") -> list:
        """The tables expanded on one slab (buffers of ``work``, one per table).  Rows ky and
        -ky have the same |s|: the values are computed on rows 0 .. ny/2 and mirrored."""
        fz, fy, fx = self.shells.freq
        fz = fz[sl]
        ny = fy.shape[1]
        h = ny // 2 + 1
        shape = (fz.shape[0],) + self.shells.index.shape[1:]
        half = (fz.shape[0], h, shape[2])
        x, fl = work.f32(half, 0), work.f32(half, 1)
        np.add(fz * fz + fy[:, :h] * fy[:, :h], fx * fx, out=x)  # |s|^2, as Shells.s_slab
        np.sqrt(x, out=x)
        x /= self.width
        x -= 0.5
        np.clip(x, 1.0, self.top, out=x)
        np.floor(x, out=fl)
        x -= fl  # exact: fl <= x < fl + 1
        i = work.intp(half)
        np.copyto(i, fl, casting="unsafe")
        a, b = work.weights(half), work.buffer("interp_t", np.float64, half)
        out = []
        for k, (t, d, t0) in enumerate(self.tables):
            # mode "wrap" (the indices are in range): take's default "raise" with out= works
            # in a copy of out, 2-3x slower
            np.take(d, i, out=a, mode="wrap")
            a *= x
            np.take(t, i, out=b, mode="wrap")
            a += b  # slope (x - i) + t[i], as np.interp
            v = work.buffer(f"expanded_{k}", np.float32, shape)
            v[:, :h] = a
            v[:, h:] = v[:, ny - h:0:-1]  # row y = row ny - y
            if sl.start == 0:
                v[0, 0, 0] = t0  # the origin shell stands alone
            out.append(v)
        return out


class _SlabWork:
    """Buffers for slab-by-slab shell sums and expansions, made once per loop and thread: a
    new temporary per slab (1-2 MB) is a fresh memory mapping whose pages fault in on every
    slab, which cost about as much as the sums themselves."""

    def __init__(self, shells: Shells, buffers=()):
        """``buffers``: (name, dtype) of named buffers made now (see :meth:`buffer`)."""
        k = max(int(np.prod(shells.index[sl].shape)) for sl in shells.slabs())
        self._k = k
        self._f32 = [np.empty(k, np.float32), np.empty(k, np.float32)]
        self._index = np.empty(k, np.intp)
        self._weights = np.empty(k, np.float64)
        self._named = {name: np.empty(k, dtype) for name, dtype in buffers}
        self._loaded = 0

    def f32(self, shape, which: int) -> np.ndarray:
        return self._f32[which][:int(np.prod(shape))].reshape(shape)

    def intp(self, shape) -> np.ndarray:
        """The index buffer (that of :meth:`load_index`) as ``shape``."""
        return self._index[:int(np.prod(shape))].reshape(shape)

    def buffer(self, name: str, dtype, shape) -> np.ndarray:
        """A named slab-sized buffer of this work, viewed as ``shape`` (made on first use if
        not made with the work)."""
        buf = self._named.get(name)
        if buf is None:
            buf = self._named[name] = np.empty(self._k, dtype)
        return buf[:int(np.prod(shape))].reshape(shape)

    def bincount(self, index: np.ndarray, weights: np.ndarray, n: int) -> np.ndarray:
        """np.bincount of one slab, its index and weights first copied into the intp and
        float64 buffers bincount works in: given uint16 / float32 it converts them itself,
        3-4 times slower (18 against 5 ns per coefficient); the sums are the same."""
        self.load_index(index)
        k = index.size
        np.copyto(self._weights[:k], weights.ravel())
        return np.bincount(self._index[:k], weights=self._weights[:k], minlength=n)

    def load_index(self, index: np.ndarray) -> None:
        """Copy one slab's shell indices (any view) into the intp buffer, for several
        :meth:`bincount_loaded` calls."""
        self._loaded = k = index.size
        np.copyto(self._index[:k].reshape(index.shape), index)

    def weights(self, shape) -> np.ndarray:
        """The float64 buffer bincount's weights are made in, as ``shape``."""
        return self._weights[:int(np.prod(shape))].reshape(shape)

    def bincount_loaded(self, values: np.ndarray, weight: np.ndarray, n: int) -> np.ndarray:
        """Shell sums of values x weight over the indices of :meth:`load_index` (the weight,
        the multiplicity 1 or 2, makes the product exact in either precision).  ``values``
        may be the :meth:`weights` buffer itself."""
        k = self._loaded
        np.multiply(values, weight, out=self._weights[:k].reshape(values.shape))
        return np.bincount(self._index[:k], weights=self._weights[:k], minlength=n)
