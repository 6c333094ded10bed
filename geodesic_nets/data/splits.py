"""Seeded, deterministic splits: per-class draws, random splits, k-fold.

Every function sorts nothing itself: it works on positions ``0..N-1`` of the list it is given,
so callers sort their file lists first (the dataset loaders do) for a split that does not depend
on the order in which a directory was listed.
"""

from __future__ import annotations

import zlib
from typing import Hashable, Sequence

import numpy as np

from ..errors import ArgumentError

__all__ = ["class_rng", "per_class_split", "random_split", "kfold_splits"]


def class_rng(seed: int, key: Hashable) -> np.random.Generator:
    """A generator that depends only on ``seed`` and ``str(key)`` (stable across runs).

    The per-class draws of :func:`per_class_split` use it, so that the split of one class does
    not change when other classes are added or removed.
    """
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(str(key).encode("utf-8"))])


def _check_seed(seed: int) -> None:
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ArgumentError(f"seed must be a non-negative int, got {seed!r}")


def per_class_split(classes: Sequence[Hashable], *, n_train: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n_train`` items of every class at random for training; the rest are for testing.

    Parameters
    ----------
    classes : sequence, length N
        Class (name or index) of every item.
    n_train : int
        Items drawn per class; every class needs more than ``n_train`` items.
    seed : int
        With the class key, seeds the draw (:func:`class_rng`).

    Returns
    -------
    train, test : ndarray, int64
        Sorted positions into ``classes``; together a partition of ``0..N-1``.

    Raises
    ------
    ValueError
        When a class has ``n_train`` items or fewer, or ``n_train < 1``.
    """
    _check_seed(seed)
    if not isinstance(n_train, (int, np.integer)) or n_train < 1:
        raise ArgumentError(f"n_train must be a positive int, got {n_train!r}")
    keys = [str(c) for c in classes]
    train: list[int] = []
    for key in sorted(set(keys)):
        members = np.array([i for i, k in enumerate(keys) if k == key], dtype=np.int64)
        if len(members) <= n_train:
            raise ArgumentError(f"class {key!r} has {len(members)} items; cannot draw n_train={n_train} and keep a test set")
        pick = class_rng(seed, key).permutation(len(members))[:n_train]
        train.extend(members[pick].tolist())
    train_arr = np.array(sorted(train), dtype=np.int64)
    test_arr = np.setdiff1d(np.arange(len(keys), dtype=np.int64), train_arr)
    return train_arr, test_arr


def random_split(n: int, *, n_test: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split ``0..n-1`` at random into ``n - n_test`` training and ``n_test`` test positions.

    Returns
    -------
    train, test : ndarray, int64, sorted
    """
    _check_seed(seed)
    if not 0 <= n_test <= n:
        raise ArgumentError(f"n_test must be in [0, {n}], got {n_test}")
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[n_test:]).astype(np.int64), np.sort(perm[:n_test]).astype(np.int64)


def kfold_splits(
    n: int, *, k: int, seed: int, classes: Sequence[Hashable] | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``k`` (train, test) splits whose test parts partition ``0..n-1``.

    Parameters
    ----------
    n : int
        Number of items.
    k : int
        Number of folds, ``2 <= k <= n``.
    seed : int
    classes : sequence, length n, optional
        Stratify: each class is shuffled (by :func:`class_rng`) and dealt over the folds in
        turn, so every fold holds about ``1/k`` of every class.

    Returns
    -------
    list of (train, test)
        Sorted int64 positions; fold sizes differ by at most one (per class when stratified).
    """
    _check_seed(seed)
    if not isinstance(k, (int, np.integer)) or not 2 <= k <= n:
        raise ArgumentError(f"k must be an int in [2, n={n}], got {k!r}")
    fold_of = np.empty(n, dtype=np.int64)
    if classes is None:
        perm = np.random.default_rng(seed).permutation(n)
        fold_of[perm] = np.arange(n) % k
    else:
        keys = [str(c) for c in classes]
        if len(keys) != n:
            raise ArgumentError(f"classes has {len(keys)} entries for n={n}")
        start = 0
        for key in sorted(set(keys)):
            members = np.array([i for i, c in enumerate(keys) if c == key], dtype=np.int64)
            members = members[class_rng(seed, key).permutation(len(members))]
            fold_of[members] = (start + np.arange(len(members))) % k
            start += len(members)  # the next class starts where this one stopped: balanced sizes
    folds = []
    for f in range(k):
        test = np.flatnonzero(fold_of == f).astype(np.int64)
        train = np.flatnonzero(fold_of != f).astype(np.int64)
        folds.append((train, test))
    return folds
