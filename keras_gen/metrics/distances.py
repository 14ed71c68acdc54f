"""Blocked Euclidean distances in float64: the one distance engine behind the k-NN metrics.

Squared distances come from the expansion ||a - b||^2 = ||a||^2 + ||b||^2 - 2 a.b, so the bulk
of the work is one BLAS matrix product per block. Two measures keep it accurate and bounded:

* **Centring.** The expansion loses digits when the norms are large compared with the distance
  (catastrophic cancellation: the error is about eps * ||a||^2). Distances do not change under a
  shift, so both sets are centred on the reference set's mean first; the error then scales with
  the spread of the data, not its offset (Inception pool features are all positive and far from
  the origin).
* **Blocks.** Queries are taken `batch_size` rows at a time and the reference set `ref_block`
  rows at a time, cast to float64 block by block, so memory is O(batch_size * ref_block) however
  large the sets are (50k x 50k distances would be 20 GB).

Nearest-neighbour distances are recomputed exactly (explicit difference) for the neighbours
found, so an exact copy has distance exactly 0.

Why not scikit-learn's NearestNeighbors: the precision/recall test "is this point inside any
reference ball, each with its own radius" is not one of its queries, and one engine for all
metrics keeps their numerics identical.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

_DEFAULT_BLOCK_BYTES = 64 * 2**20  # size of one float64 distance block
_REF_BLOCK = 8192  # reference rows per block
_CACHE_BYTES = 512 * 2**20  # keep the centred float64 reference in memory up to this size


def _slices(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def default_batch_size(n_ref: int, ref_block: int = _REF_BLOCK) -> int:
    """Query rows per block so that one (batch, ref_block) float64 block is ~64 MB."""
    return int(max(64, _DEFAULT_BLOCK_BYTES // (8 * max(1, min(n_ref, ref_block)))))


class _Reference:
    """A reference set, centred, with its squared norms precomputed (float64).

    The centred float64 blocks are cached when they fit in `_CACHE_BYTES` (the common case,
    e.g. 10k x 2048 features = 160 MB); larger sets are re-cast block by block on each pass.
    """

    def __init__(self, ref: np.ndarray, ref_block: int = _REF_BLOCK):
        self.ref = ref
        self.ref_block = ref_block
        self.shift = ref.mean(axis=0, dtype=np.float64)
        self.sq_norms = np.empty(len(ref), np.float64)
        cache = ref.shape[0] * ref.shape[1] * 8 <= _CACHE_BYTES
        self._cached = [] if cache else None
        for s in _slices(len(ref), ref_block):
            block = self._centred(s)
            self.sq_norms[s] = np.einsum("ij,ij->i", block, block)
            if cache:
                self._cached.append(block)

    def _centred(self, s: slice) -> np.ndarray:
        block = self.ref[s].astype(np.float64)
        block -= self.shift
        return block

    def blocks(self) -> Iterator[tuple[slice, np.ndarray, np.ndarray]]:
        for n, s in enumerate(_slices(len(self.ref), self.ref_block)):
            block = self._cached[n] if self._cached is not None else self._centred(s)
            yield s, block, self.sq_norms[s]

    def centre(self, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Centred float64 query rows, pre-multiplied by -2 (for `_sq_dist`), and their ||q||^2."""
        q = query.astype(np.float64)
        q -= self.shift
        q_sq = np.einsum("ij,ij->i", q, q)
        q *= -2.0
        return q, q_sq


# The blocks below are large (batch x ref_block), so each function makes as few elementwise
# passes over them as it can; the query comes pre-multiplied by -2, so q @ r.T = -2 q.r.


def _sq_dist(q: np.ndarray, q_sq: np.ndarray, r: np.ndarray, r_sq: np.ndarray) -> np.ndarray:
    d = q @ r.T
    d += q_sq[:, None]
    d += r_sq[None, :]
    return d  # may be slightly negative where the true distance is 0 (rounding)


def knn(
    query: np.ndarray,
    ref: np.ndarray,
    k: int = 1,
    exclude_self: bool = False,
    batch_size: int | None = None,
    ref_block: int = _REF_BLOCK,
) -> tuple[np.ndarray, np.ndarray]:
    """k nearest reference points for each query: (distances (Q, k), indices (Q, k)), ascending.

    With `exclude_self=True`, `query` must be `ref` itself and each point's own index is skipped
    (by index, so exact duplicates elsewhere in the set still count as neighbours at distance 0).
    """
    n_ref = len(ref) - (1 if exclude_self else 0)
    if k > n_ref:
        raise ValueError(f"k={k} neighbours requested from a reference set of {n_ref} points")
    reference = _Reference(ref, ref_block)
    batch_size = batch_size or default_batch_size(len(ref), reference.ref_block)
    out_d = np.empty((len(query), k), np.float64)
    out_i = np.empty((len(query), k), np.int64)
    for qs in _slices(len(query), batch_size):
        q, _ = reference.centre(query[qs])
        rows = np.arange(len(q))
        best_d = np.full((len(q), k), np.inf)
        best_i = np.zeros((len(q), k), np.int64)
        for rs, r, r_sq in reference.blocks():
            d = q @ r.T  # ranking key ||r||^2 - 2 q.r: ||q||^2 is the same along a row
            d += r_sq[None, :]
            if exclude_self:
                own = np.arange(qs.start, qs.stop) - rs.start
                inside = (own >= 0) & (own < d.shape[1])
                d[rows[inside], own[inside]] = np.inf
            kk = min(k, d.shape[1])
            part = np.argpartition(d, kk - 1, axis=1)[:, :kk]
            cand_d = np.concatenate([best_d, np.take_along_axis(d, part, axis=1)], axis=1)
            cand_i = np.concatenate([best_i, part + rs.start], axis=1)
            keep = np.argpartition(cand_d, k - 1, axis=1)[:, :k]
            best_d = np.take_along_axis(cand_d, keep, axis=1)
            best_i = np.take_along_axis(cand_i, keep, axis=1)
        # exact distances for the neighbours found (explicit differences, no cancellation)
        diff = query[qs].astype(np.float64)[:, None, :] - ref[best_i].astype(np.float64)
        exact = np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))
        order = np.argsort(exact, axis=1, kind="stable")
        out_d[qs] = np.take_along_axis(exact, order, axis=1)
        out_i[qs] = np.take_along_axis(best_i, order, axis=1)
    return out_d, out_i


def kth_neighbour_distance(
    points: np.ndarray, k: int, batch_size: int | None = None, ref_block: int = _REF_BLOCK
) -> np.ndarray:
    """Distance from each point to its k-th nearest other point in the same set."""
    d, _ = knn(points, points, k=k, exclude_self=True, batch_size=batch_size, ref_block=ref_block)
    return d[:, k - 1]


def inside_any_ball(
    query: np.ndarray,
    centres: np.ndarray,
    radii: np.ndarray,
    batch_size: int | None = None,
    ref_block: int = _REF_BLOCK,
) -> np.ndarray:
    """Boolean (Q,): is query point q within radii[j] of some centres[j] (||q - c_j|| <= r_j)?"""
    reference = _Reference(centres, ref_block)
    batch_size = batch_size or default_batch_size(len(centres), reference.ref_block)
    sq_radii = np.asarray(radii, np.float64) ** 2
    out = np.zeros(len(query), bool)
    for qs in _slices(len(query), batch_size):
        q, q_sq = reference.centre(query[qs])
        hit = np.zeros(len(q), bool)
        for rs, r, r_sq in reference.blocks():
            # ||q||^2 + ||r||^2 - 2 q.r <= rad^2  <=>  -2 q.r - (rad^2 - ||r||^2) <= -||q||^2
            g = q @ r.T
            g -= (sq_radii[rs] - r_sq)[None, :]
            hit |= (g <= -q_sq[:, None]).any(axis=1)
        out[qs] = hit
    return out


def mutual_ball_membership(
    a: np.ndarray,
    radii_a: np.ndarray,
    b: np.ndarray,
    radii_b: np.ndarray,
    batch_size: int | None = None,
    ref_block: int = _REF_BLOCK,
) -> tuple[np.ndarray, np.ndarray]:
    """(a inside b's balls (len a,), b inside a's balls (len b,)) from ONE pass over the a-b
    distances: the same as two `inside_any_ball` calls, at half the cost."""
    reference = _Reference(b, ref_block)
    batch_size = batch_size or default_batch_size(len(b), reference.ref_block)
    sq_radii_a = np.asarray(radii_a, np.float64) ** 2
    sq_radii_b = np.asarray(radii_b, np.float64) ** 2
    a_in_b = np.zeros(len(a), bool)
    b_in_a = np.zeros(len(b), bool)
    for qs in _slices(len(a), batch_size):
        q, q_sq = reference.centre(a[qs])
        for rs, r, r_sq in reference.blocks():
            d = _sq_dist(q, q_sq, r, r_sq)  # (a rows, b rows)
            a_in_b[qs] |= (d <= sq_radii_b[None, rs]).any(axis=1)
            b_in_a[rs] |= (d <= sq_radii_a[qs, None]).any(axis=0)
    return a_in_b, b_in_a


def sum_pairwise_distances(
    points: np.ndarray, batch_size: int | None = None, ref_block: int = _REF_BLOCK
) -> float:
    """Sum of ||x_i - x_j|| over all unordered pairs i < j (exact, blocked)."""
    reference = _Reference(points, ref_block)
    batch_size = batch_size or default_batch_size(len(points), reference.ref_block)
    total = 0.0
    for qs in _slices(len(points), batch_size):
        q, q_sq = reference.centre(points[qs])
        for rs, r, r_sq in reference.blocks():
            if rs.stop <= qs.start:  # block lies entirely below the diagonal: j < i everywhere
                continue
            d = np.sqrt(np.maximum(_sq_dist(q, q_sq, r, r_sq), 0.0))
            i = np.arange(qs.start, qs.stop)[:, None]
            j = np.arange(rs.start, rs.stop)[None, :]
            total += float(d[j > i].sum())
    return total


def pair_distances(x: np.ndarray, i: np.ndarray, j: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """||x[i_p] - x[j_p]|| for each index pair p (explicit differences, gathered in chunks)."""
    out = np.empty(len(i), np.float64)
    for s in _slices(len(i), chunk):
        diff = x[i[s]].astype(np.float64) - x[j[s]].astype(np.float64)
        out[s] = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    return out
