"""k-nearest-neighbour classifier with L2 / L1 distances (CS231n ``k_nearest_neighbor.py``).

Distances are computed in the dtype of the training data (float32 in, float32 out);
integer inputs are converted to float64, and test inputs to the training dtype.
``metric="l2"`` is the Euclidean distance (square root of the squared distance),
``metric="l1"`` the sum of absolute differences.

Memory: the no-loop methods work on blocks of test rows (and, for L1, of train rows)
sized so that the temporaries of one block fit ``memory_budget_bytes`` (at least one
L2 tile of up to 1024 rows / 128 MiB, one L1 pair).  Each row's distances are computed with the
same arithmetic whatever the block size (for L2: in a matrix product of the same shape,
see ``KNearestNeighbor._tile_rows``), so results do not depend on the budget.

Neighbours are ordered by (distance, train index): among equal distances the smaller
train index comes first, also at the k-th place.  Majority-vote ties go to the
smallest label.

L1 speed: the no-loop L1 works on cache-sized blocks (the values do not depend on the
block size: each distance is one ``np.sum`` over the D differences of one pair) and, with
``n_jobs > 1``, on several test-row ranges in threads (NumPy releases the GIL inside its
loops).  When both the training and the test data hold only integers in [0, 255] (raw
8-bit pixels, whatever their float dtype) it uses an exact integer kernel instead:
``|a - b| = a + b - 2 min(a, b)``, so ``sum |a - b| = sum a + sum b - 2 sum min(a, b)``
with the minima taken on uint8 copies and summed on 64-bit words (SWAR: four 16-bit
lanes per word).  Every partial sum is an integer below 2**24, so the float path gives
the very same values and both paths return identical distances, about 3-4x faster.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ._checks import check_choice, check_int

__all__ = ["KNearestNeighbor", "accuracy", "cross_validate_k", "best_k"]

_METRICS = ("l2", "l1")
_METHODS = ("no_loops", "one_loop", "two_loops")

# L1 block temporaries are kept about this size (bytes) so that they stay in cache.
_L1_TILE_BYTES = 2 * 2**20
# SWAR: 16-bit lanes of a uint64 hold sums of up to 2 * 128 bytes (<= 65280).
_LANE_MASK = np.uint64(0x00FF00FF00FF00FF)
_WORDS_PER_GROUP = 128


class KNearestNeighbor:
    """kNN classifier: ``fit`` memorises the training data, ``predict`` votes among the k nearest.

    Fitted attributes: ``X_train_`` (N, D) (the caller's array when it is already
    C-contiguous and floating, otherwise a converted copy), ``y_train_`` (N,), ``classes_``
    (sorted unique labels).

    ``n_jobs``: threads for the no-loop L1 distances (L2 uses BLAS, whose threads are set
    by the caller, e.g. threadpoolctl); the values do not depend on it.
    """

    def __init__(
        self,
        k: int = 1,
        metric: str = "l2",
        memory_budget_bytes: int = 256 * 2**20,
        n_jobs: int = 1,
    ):
        check_int("k", k)
        check_choice("metric", metric, _METRICS)
        check_int("memory_budget_bytes", memory_budget_bytes)
        check_int("n_jobs", n_jobs)
        self.k = k
        self.metric = metric
        self.memory_budget_bytes = memory_budget_bytes
        self.n_jobs = n_jobs

    def __repr__(self) -> str:
        return (
            f"KNearestNeighbor(k={self.k!r}, metric={self.metric!r}, "
            f"memory_budget_bytes={self.memory_budget_bytes!r}, n_jobs={self.n_jobs!r})"
        )

    # ------------------------------------------------------------------ fit / checks
    def fit(self, X, y):
        """Store the training data (no copy if X is already C-contiguous floating); returns self."""
        X = np.asarray(X)
        if not np.issubdtype(X.dtype, np.floating):
            X = X.astype(np.float64)
        if X.ndim != 2 or X.shape[0] == 0:
            raise ValueError(f"X must be a non-empty 2-D array (N, D), got shape {X.shape}")
        X = np.ascontiguousarray(X)
        y = np.asarray(y)
        if y.shape != (X.shape[0],):
            raise ValueError(f"y must have shape ({X.shape[0]},) to match X, got {y.shape}")
        self.X_train_ = X
        self.y_train_ = y
        self.classes_, enc = np.unique(y, return_inverse=True)
        self._y_enc = enc.reshape(-1).astype(np.intp, copy=False)
        self._train_sq = None
        self._train_u8 = None  # (uint8 copy padded for the L1 kernel, row sums) or False
        return self

    # course-style aliases
    @property
    def X_train(self) -> np.ndarray:
        return self._fitted()[0]

    @property
    def y_train(self) -> np.ndarray:
        return self._fitted()[1]

    def _fitted(self):
        if not hasattr(self, "X_train_"):
            raise ValueError("KNearestNeighbor is not fitted yet: call fit(X, y) first")
        return self.X_train_, self.y_train_

    def _check_X(self, X) -> np.ndarray:
        Xtr, _ = self._fitted()
        check_choice("metric", self.metric, _METRICS)
        X = np.asarray(X)
        if X.dtype != Xtr.dtype:
            X = X.astype(Xtr.dtype)
        if X.ndim != 2 or X.shape[1] != Xtr.shape[1]:
            raise ValueError(f"X must be 2-D (M, {Xtr.shape[1]}), got shape {X.shape}")
        return np.ascontiguousarray(X)

    def _check_k(self, k, name="k") -> int:
        if k is None:
            k = self.k
        k = check_int(name, k)
        n_train = self._fitted()[0].shape[0]
        if k > n_train:
            raise ValueError(f"{name} must be <= the number of training rows ({n_train}), got {k}")
        return k

    def _budget(self) -> int:
        return check_int("memory_budget_bytes", self.memory_budget_bytes)

    def _jobs(self) -> int:
        return check_int("n_jobs", getattr(self, "n_jobs", 1))

    @property
    def _sq_train(self) -> np.ndarray:
        if self._train_sq is None:
            Xtr = self.X_train_
            self._train_sq = np.einsum("ij,ij->i", Xtr, Xtr)
        return self._train_sq

    # ------------------------------------------------------------------ distances
    def compute_distances_two_loops(self, X) -> np.ndarray:
        """Distances (M, N) with a Python loop over test rows and one over train rows."""
        X = self._check_X(X)
        Xtr = self.X_train_
        dists = np.empty((X.shape[0], Xtr.shape[0]), dtype=Xtr.dtype)
        l2 = self.metric == "l2"
        for i in range(X.shape[0]):
            for j in range(Xtr.shape[0]):
                diff = X[i] - Xtr[j]
                dists[i, j] = np.sqrt(np.dot(diff, diff)) if l2 else np.sum(np.abs(diff))
        return dists

    def compute_distances_one_loop(self, X) -> np.ndarray:
        """Distances (M, N) with one Python loop over test rows (broadcast over train rows)."""
        X = self._check_X(X)
        Xtr = self.X_train_
        dists = np.empty((X.shape[0], Xtr.shape[0]), dtype=Xtr.dtype)
        l2 = self.metric == "l2"
        diff = np.empty_like(Xtr)  # reused: a fresh (N, D) temporary per row costs page faults
        for i in range(X.shape[0]):
            np.subtract(Xtr, X[i], out=diff)
            if l2:
                np.sqrt(np.einsum("ij,ij->i", diff, diff), out=dists[i])
            else:
                np.abs(diff, out=diff)
                np.sum(diff, axis=1, out=dists[i])
        return dists

    def compute_distances_no_loops(self, X) -> np.ndarray:
        """Distances (M, N) without Python loops over examples.

        L2: ``sqrt(max(||a||^2 + ||b||^2 - 2 a.b, 0))``, the products computed as matrix
        products over fixed tiles of test rows (see :meth:`_tile_rows`) written straight
        into the result.  L1: broadcast ``|a - b|`` over blocks of (test rows x train
        rows x D) that fit ``memory_budget_bytes``, summed over D.
        """
        X = self._check_X(X)
        n_test, n_train = X.shape[0], self.X_train_.shape[0]
        dists = np.empty((n_test, n_train), dtype=self.X_train_.dtype)
        if self.metric == "l2":
            tile = self._tile_rows(n_test)
            te_sq = np.einsum("ij,ij->i", X, X)
            for s in range(0, n_test, tile):
                e = min(s + tile, n_test)
                self._l2_block(X, te_sq, s, e, tile, dists[s:e])
        else:
            self._l1_block(X, dists, self._budget())
        return dists

    def _tile_rows(self, n_test: int) -> int:
        """Rows per matrix product in the L2 computation (depends on M, N and dtype only).

        BLAS results depend on the shape of the product (kernels and summation order
        differ, e.g. for tail rows), so every test row is computed in a product of the
        same shape, at the same place, whatever the memory budget: tiles of ``T`` rows
        starting at multiples of ``T``, the last one zero-padded to ``T`` rows.  ``T`` is
        at most 1024 rows and 128 MiB of distances (but at least 8 rows), and the tiles
        are balanced.  A block of work is therefore at least one tile, even with a
        smaller ``memory_budget_bytes``.  (Each tile's product re-reads the training
        matrix, hence tiles as large as that memory cap allows.)
        """
        n_train = self.X_train_.shape[0]
        cap = max(8, min(1024, (128 * 2**20) // max(1, n_train * self.X_train_.itemsize)))
        n_tiles = max(1, -(-n_test // cap))
        return max(1, -(-n_test // n_tiles))

    def _l2_block(
        self, X: np.ndarray, te_sq: np.ndarray, s: int, e: int, tile: int, out: np.ndarray
    ) -> None:
        """out[:] = L2 distances of rows s:e of X (s a multiple of ``tile``) to all train rows."""
        XtrT = self.X_train_.T
        a = np.zeros((tile, X.shape[1]), dtype=X.dtype)
        for t in range(s, e, tile):
            u = min(t + tile, e)
            # (-2 a) . b == -2 (a . b) exactly (scaling by a power of two), and saves a pass
            np.multiply(X[t:u], -2, out=a[: u - t])
            if u - t == tile:
                np.matmul(a, XtrT, out=out[t - s : u - s])
            else:  # last, partial tile: zero-padded to the tile's shape
                a[u - t :] = 0
                out[t - s : u - s] = np.matmul(a, XtrT)[: u - t]
        out += te_sq[s:e, None]
        out += self._sq_train
        np.maximum(out, 0, out=out)
        np.sqrt(out, out=out)

    def _l1_block(self, X: np.ndarray, out: np.ndarray, budget: int) -> None:
        """out[:] = L1 distances of the rows of X to all train rows, within ``budget`` bytes.

        Exact uint8 kernel when train and test rows hold only integers in [0, 255]
        (see the module doc), else the float kernel; with ``n_jobs > 1`` the test rows
        (or, for a single row, the train rows) are split over threads.  The values are
        the same whatever the path, the budget and ``n_jobs``.
        """
        n_test, n_train = X.shape[0], self.X_train_.shape[0]
        if n_test == 0:
            return
        train_u8 = self._l1_train_u8()
        test_u8 = _as_pixels_u8(X, self._u8_width) if train_u8 is not None else None
        if test_u8 is not None:
            b8, sb = train_u8
            a8, sa = test_u8

            def work(r0, r1, c0, c1, bud):
                _l1_u8_rows(a8[r0:r1], sa[r0:r1], b8[c0:c1], sb[c0:c1], out[r0:r1, c0:c1], bud)
        else:
            Xtr = self.X_train_

            def work(r0, r1, c0, c1, bud):
                _l1_float_rows(X[r0:r1], Xtr[c0:c1], out[r0:r1, c0:c1], bud)

        jobs = min(self._jobs(), max(n_test, n_train))
        if jobs == 1:
            work(0, n_test, 0, n_train, budget)
            return
        part = max(1, budget // jobs)
        if n_test >= jobs:
            cuts = np.linspace(0, n_test, jobs + 1).astype(int)
            tasks = [(cuts[i], cuts[i + 1], 0, n_train) for i in range(jobs)]
        else:
            cuts = np.linspace(0, n_train, jobs + 1).astype(int)
            tasks = [(0, n_test, cuts[i], cuts[i + 1]) for i in range(jobs)]
        with ThreadPoolExecutor(max_workers=jobs) as ex:
            for f in [ex.submit(work, *t, part) for t in tasks]:
                f.result()

    @property
    def integer_l1(self) -> bool:
        """True when the training data qualify for the exact uint8 L1 kernel (integers in
        [0, 255]); the test rows of a call must qualify too for it to be used."""
        self._fitted()
        return self._l1_train_u8() is not None

    def _l1_train_u8(self):
        """(uint8 train rows zero-padded to the kernel's width, int64 row sums), or None
        when the training data are not all integers in [0, 255].  Computed once per fit."""
        if self._train_u8 is None:
            Xtr = self.X_train_
            self._u8_width = _u8_width(Xtr.shape[1])
            # exact in the float path too only while every sum stays below 2**mantissa
            exact = 255 * Xtr.shape[1] < 2 ** (np.finfo(Xtr.dtype).nmant + 1)
            self._train_u8 = (exact and _as_pixels_u8(Xtr, self._u8_width)) or False
        return self._train_u8 or None

    def _distance_chunks(self, X: np.ndarray, extra_row_bytes: int):
        """Yield ``(start, stop, dists_block)`` over test rows; block temporaries fit the budget.

        ``extra_row_bytes`` is the caller's own temporary memory per test row.  L2 blocks
        are whole tiles (at least one); L1 gets half the budget for the distance block
        and half for the ``|a - b|`` temporaries.
        """
        n_test, n_train = X.shape[0], self.X_train_.shape[0]
        budget = self._budget()
        row_bytes = n_train * self.X_train_.itemsize + extra_row_bytes
        if self.metric == "l2":
            tile = self._tile_rows(n_test)
            rows = tile * max(1, (budget // row_bytes) // tile)
            te_sq = np.einsum("ij,ij->i", X, X)
        else:
            rows = max(1, (budget // 2) // row_bytes)
        rows = max(1, min(rows, n_test))
        buf = np.empty((rows, n_train), dtype=self.X_train_.dtype)
        for s in range(0, n_test, rows):
            e = min(s + rows, n_test)
            block = buf[: e - s]
            if self.metric == "l2":
                self._l2_block(X, te_sq, s, e, tile, block)
            else:
                self._l1_block(X[s:e], block, max(1, budget // 2))
            yield s, e, block

    # ------------------------------------------------------------------ neighbours
    @staticmethod
    def _select_k(d: np.ndarray, k: int) -> np.ndarray:
        """Indices (r, k) of the k smallest entries of each row of d, sorted by (value, index)."""
        n = d.shape[1]
        if k == 1:
            return np.argmin(d, axis=1)[:, None]  # first minimum = smallest index
        if k >= n:
            return np.argsort(d, axis=1, kind="stable")
        part = np.argpartition(d, k - 1, axis=1)[:, :k]
        vals = np.take_along_axis(d, part, axis=1)
        order = np.lexsort((part, vals), axis=-1)
        part = np.take_along_axis(part, order, axis=1)
        kth = np.take_along_axis(vals, order[:, -1:], axis=1)  # k-th smallest value per row
        # Rows with more than k entries <= the k-th value: ties straddle the k-th place and
        # argpartition may have kept the wrong ones; redo those rows with a stable sort.
        n_le = np.count_nonzero(d <= kth, axis=1)
        for r in np.flatnonzero(n_le > k):
            cand = np.flatnonzero(d[r] <= kth[r, 0])
            part[r] = cand[np.argsort(d[r, cand], kind="stable")[:k]]
        return part

    def _vote(self, idx: np.ndarray) -> np.ndarray:
        """Majority label among the neighbour indices idx (r, k); ties -> smallest label."""
        enc = self._y_enc[idx]
        r, k = enc.shape
        n_cls = self.classes_.shape[0]
        if k == 1:
            return self.classes_[enc[:, 0]]
        flat = enc + (np.arange(r) * n_cls)[:, None]
        counts = np.bincount(flat.ravel(), minlength=r * n_cls).reshape(r, n_cls)
        return self.classes_[np.argmax(counts, axis=1)]  # first max = smallest label

    def kneighbors(self, X, n_neighbors: int | None = None, return_distance: bool = False):
        """Indices (M, n_neighbors) of the nearest train rows, nearest first.

        Ties are ordered by train index (smaller first).  Works block by block: the full
        (M, N) distance matrix is never held.  With ``return_distance=True`` returns
        ``(distances, indices)``.
        """
        X = self._check_X(X)
        k = self._check_k(n_neighbors, "n_neighbors")
        n_train = self.X_train_.shape[0]
        idx = np.empty((X.shape[0], k), dtype=np.intp)
        dist = np.empty((X.shape[0], k), dtype=self.X_train_.dtype) if return_distance else None
        extra = 0 if k == 1 else n_train * (np.dtype(np.intp).itemsize + 1)
        for s, e, block in self._distance_chunks(X, extra):
            sel = self._select_k(block, k)
            idx[s:e] = sel
            if return_distance:
                dist[s:e] = np.take_along_axis(block, sel, axis=1)
        return (dist, idx) if return_distance else idx

    def predict_labels(self, dists, k: int | None = None) -> np.ndarray:
        """Labels (M,) by majority vote among the k nearest in ``dists`` (M, N); ties -> smallest label."""
        self._fitted()
        dists = np.asarray(dists)
        n_train = self.X_train_.shape[0]
        if dists.ndim != 2 or dists.shape[1] != n_train:
            raise ValueError(f"dists must be 2-D (M, {n_train}), got shape {dists.shape}")
        k = self._check_k(k)
        n_test = dists.shape[0]
        out = np.empty(n_test, dtype=self.classes_.dtype)
        row_bytes = n_train * (np.dtype(np.intp).itemsize + 1)
        rows = max(1, self._budget() // row_bytes)
        for s in range(0, n_test, rows):
            e = min(s + rows, n_test)
            out[s:e] = self._vote(self._select_k(dists[s:e], k))
        return out

    def predict(self, X, k: int | None = None, method: str = "no_loops") -> np.ndarray:
        """Predicted labels (M,) with k nearest neighbours (default ``self.k``).

        ``method`` picks the distance computation: "no_loops" (block by block, never
        holding the full distance matrix), "one_loop" or "two_loops".
        """
        check_choice("method", method, _METHODS)
        X = self._check_X(X)
        k = self._check_k(k)
        if method == "one_loop":
            return self.predict_labels(self.compute_distances_one_loop(X), k)
        if method == "two_loops":
            return self.predict_labels(self.compute_distances_two_loops(X), k)
        out = np.empty(X.shape[0], dtype=self.classes_.dtype)
        extra = 0 if k == 1 else self.X_train_.shape[0] * (np.dtype(np.intp).itemsize + 1)
        for s, e, block in self._distance_chunks(X, extra):
            out[s:e] = self._vote(self._select_k(block, k))
        return out

    def predict_multi_k(self, X, ks: Iterable[int]) -> dict[int, np.ndarray]:
        """``{k: predict(X, k)}`` for every k in ``ks``, from a single distance pass."""
        if isinstance(ks, (int, np.integer)):
            raise ValueError(f"ks must be an iterable of ints, got {ks!r}")
        ks = [self._check_k(k, "ks[i]") for k in ks]
        if not ks:
            raise ValueError("ks must hold at least one k")
        X = self._check_X(X)
        kmax = max(ks)
        out = {k: np.empty(X.shape[0], dtype=self.classes_.dtype) for k in ks}
        extra = 0 if kmax == 1 else self.X_train_.shape[0] * (np.dtype(np.intp).itemsize + 1)
        for s, e, block in self._distance_chunks(X, extra):
            sel = self._select_k(block, kmax)
            for k in out:
                out[k][s:e] = self._vote(sel[:, :k])
        return out


# ---------------------------------------------------------------------- evaluation
def accuracy(y_true, y_pred) -> float:
    """Fraction of equal labels (a float in [0, 1])."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1 or y_true.size == 0:
        raise ValueError(
            f"accuracy: need two non-empty 1-D arrays of the same shape, got "
            f"{y_true.shape} and {y_pred.shape}"
        )
    return float(np.mean(y_true == y_pred))


def cross_validate_k(
    X,
    y,
    ks: Iterable[int],
    num_folds: int = 5,
    metric: str = "l2",
    memory_budget_bytes: int = 256 * 2**20,
    n_jobs: int = 1,
) -> np.ndarray:
    """Accuracies (num_folds, len(ks)) of k-fold cross-validation, as in the course.

    The rows are split in order into ``num_folds`` folds (``np.array_split``, no
    shuffling); each fold in turn is the validation set and the others, concatenated in
    order, the training set.  All k come from one distance pass per fold.
    """
    X, y = np.asarray(X), np.asarray(y)
    num_folds = check_int("num_folds", num_folds, 2)
    ks = [check_int("ks[i]", k) for k in ks]
    if not ks:
        raise ValueError("ks must hold at least one k")
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise ValueError(f"X (N, D) and y (N,) expected, got {X.shape} and {y.shape}")
    if X.shape[0] < num_folds:
        raise ValueError(f"need at least num_folds={num_folds} rows, got {X.shape[0]}")
    folds = np.array_split(np.arange(X.shape[0]), num_folds)
    acc = np.empty((num_folds, len(ks)))
    for i, val in enumerate(folds):
        train = np.concatenate([f for j, f in enumerate(folds) if j != i])
        knn = KNearestNeighbor(
            metric=metric, memory_budget_bytes=memory_budget_bytes, n_jobs=n_jobs
        ).fit(X[train], y[train])
        pred = knn.predict_multi_k(X[val], ks)
        for c, k in enumerate(ks):
            acc[i, c] = accuracy(y[val], pred[k])
    return acc


def best_k(ks: Iterable[int], scores) -> int:
    """The k with the highest score; ties (equal within 1e-12) go to the smallest k."""
    ks = [int(k) for k in ks]
    scores = np.asarray(scores, dtype=np.float64)
    if len(ks) == 0 or scores.shape != (len(ks),) or not np.all(np.isfinite(scores)):
        raise ValueError(f"best_k: need one finite score per k, got {scores!r} for {ks!r}")
    top = scores.max()
    return min(k for k, sc in zip(ks, scores) if sc >= top - 1e-12)


# ---------------------------------------------------------------------- L1 kernels
def _l1_float_rows(X: np.ndarray, Xtr: np.ndarray, out: np.ndarray, budget: int) -> None:
    """out[:] = sum |X[i] - Xtr[j]| over blocks of (rows x cols x D) temporaries that fit
    ``min(budget, _L1_TILE_BYTES)`` (at least one pair); one ``np.sum`` per pair, so the
    values do not depend on the block shape."""
    n_test, n_train, d = X.shape[0], Xtr.shape[0], Xtr.shape[1]
    pairs = max(1, min(budget, _L1_TILE_BYTES) // max(1, d * Xtr.itemsize))
    if pairs >= n_train:
        rows, cols = max(1, min(n_test, pairs // n_train)), n_train
    else:
        rows, cols = 1, pairs
    buf = np.empty(rows * cols * d, dtype=Xtr.dtype)
    for s in range(0, n_test, rows):
        e = min(s + rows, n_test)
        a = X[s:e, None, :]
        for t in range(0, n_train, cols):
            u = min(t + cols, n_train)
            tmp = buf[: (e - s) * (u - t) * d].reshape(e - s, u - t, d)
            np.subtract(a, Xtr[None, t:u, :], out=tmp)
            np.abs(tmp, out=tmp)
            np.sum(tmp, axis=2, out=out[s:e, t:u])


def _u8_width(d: int) -> int:
    """Row width (bytes) of the uint8 copies: D zero-padded to whole 64-bit words, and to
    whole groups of 128 words when longer than one group (zeros add nothing to min sums)."""
    words = -(-d // 8)
    if words > _WORDS_PER_GROUP:
        words = -(-words // _WORDS_PER_GROUP) * _WORDS_PER_GROUP
    return 8 * words


def _as_pixels_u8(X: np.ndarray, width: int):
    """(C-contiguous uint8 copy of X zero-padded to ``width`` columns, int64 row sums) when
    every value of X is an integer in [0, 255]; otherwise None."""
    if X.size == 0:
        return None
    lo, hi = X.min(), X.max()
    if not (lo >= 0 and hi <= 255):  # also False for NaN
        return None
    u8 = np.zeros((X.shape[0], width), dtype=np.uint8)
    u8[:, : X.shape[1]] = X  # float -> uint8 truncates; checked just below
    if not np.array_equal(u8[:, : X.shape[1]], X):
        return None
    return u8, u8.sum(axis=1, dtype=np.int64)


def _l1_u8_rows(a8, sa, b8, sb, out, budget: int) -> None:
    """out[:] = L1 distances between uint8 rows a8 (r, W) and b8 (c, W), exactly.

    ``sum |a - b| = sum a + sum b - 2 sum min(a, b)``.  The minima of a block of pairs
    go into a uint8 buffer viewed as 64-bit words; even and odd bytes are added into four
    16-bit lanes per word (each <= 510), the words summed in groups of 128 (lanes <=
    65280, no carry between lanes), and the four lanes of each group added at the end.
    """
    n_test, n_train, w = a8.shape[0], b8.shape[0], b8.shape[1]
    words = w // 8
    groups = max(1, words // _WORDS_PER_GROUP)
    per_group = words // groups
    pairs = max(1, min(budget, _L1_TILE_BYTES) // (2 * w))  # uint8 minima + uint64 copy
    if pairs >= n_train:
        rows, cols = max(1, min(n_test, pairs // n_train)), n_train
    else:
        rows, cols = 1, pairs
    buf = np.empty(rows * cols * w, dtype=np.uint8)
    low = np.empty(rows * cols * words, dtype=np.uint64)
    sh8, sh16, sh32, sh48 = (np.uint64(v) for v in (8, 16, 32, 48))
    lane = np.uint64(0xFFFF)
    for s in range(0, n_test, rows):
        e = min(s + rows, n_test)
        a = a8[s:e, None, :]
        for t in range(0, n_train, cols):
            u = min(t + cols, n_train)
            r, c = e - s, u - t
            m = buf[: r * c * w].reshape(r, c, w)
            np.minimum(a, b8[None, t:u, :], out=m)
            v = m.view(np.uint64)  # (r, c, words)
            lo = low[: r * c * words].reshape(r, c, words)
            np.bitwise_and(v, _LANE_MASK, out=lo)  # even bytes
            np.right_shift(v, sh8, out=v)
            np.bitwise_and(v, _LANE_MASK, out=v)  # odd bytes
            np.add(v, lo, out=v)
            g = np.add.reduce(v.reshape(r, c, groups, per_group), axis=3)
            mins = (
                ((g & lane) + ((g >> sh16) & lane) + ((g >> sh32) & lane) + (g >> sh48))
                .sum(axis=2, dtype=np.uint64)
                .astype(np.int64)
            )
            out[s:e, t:u] = sa[s:e, None] + sb[None, t:u] - 2 * mins
