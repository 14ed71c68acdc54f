"""The blocked distance engine against scikit-learn / scipy references, across block sizes."""

import numpy as np
import pytest
from scipy.spatial.distance import cdist, pdist
from sklearn.neighbors import NearestNeighbors

from keras_gen.metrics.distances import (
    inside_any_ball,
    knn,
    kth_neighbour_distance,
    mutual_ball_membership,
    sum_pairwise_distances,
)

BLOCKS = [dict(), dict(batch_size=7, ref_block=5), dict(batch_size=64, ref_block=33)]


@pytest.mark.parametrize("blocks", BLOCKS)
def test_knn_matches_sklearn(blocks):
    rng = np.random.default_rng(0)
    query, ref = rng.normal(size=(90, 6)), rng.normal(size=(120, 6))
    d, i = knn(query, ref, k=4, **blocks)
    d_ref, i_ref = NearestNeighbors(n_neighbors=4).fit(ref).kneighbors(query)
    np.testing.assert_allclose(d, d_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(i, i_ref)


@pytest.mark.parametrize("blocks", BLOCKS)
def test_knn_excluding_self_matches_sklearn(blocks):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(100, 5))
    d, i = knn(x, x, k=3, exclude_self=True, **blocks)
    d_ref, i_ref = NearestNeighbors(n_neighbors=3).fit(x).kneighbors()  # sklearn skips self too
    np.testing.assert_allclose(d, d_ref, rtol=1e-12)
    np.testing.assert_array_equal(i, i_ref)
    np.testing.assert_allclose(kth_neighbour_distance(x, 3, **blocks), d_ref[:, 2], rtol=1e-12)


def test_exact_copies_have_distance_exactly_zero_despite_a_large_offset():
    rng = np.random.default_rng(2)
    ref = rng.normal(size=(50, 32)) + 1e6  # ||x||^2 ~ 3e13: the Gram trick alone would give ~1e-2
    d, i = knn(ref[[3, 17, 40]], ref, k=1)
    np.testing.assert_array_equal(d[:, 0], 0.0)
    np.testing.assert_array_equal(i[:, 0], [3, 17, 40])
    # duplicates inside one set are neighbours of each other (self is excluded by index only)
    dup = np.concatenate([ref[:10], ref[:1]])
    d, i = knn(dup, dup, k=1, exclude_self=True)
    assert d[0, 0] == 0.0 and i[0, 0] == 10


@pytest.mark.parametrize("blocks", BLOCKS)
def test_inside_any_ball_matches_brute_force(blocks):
    rng = np.random.default_rng(3)
    query, centres = rng.normal(size=(80, 4)), rng.normal(size=(60, 4)) + 0.5
    radii = rng.uniform(0.2, 1.2, size=60)
    expected = (cdist(query, centres) <= radii[None, :]).any(axis=1)
    assert 0 < expected.sum() < len(expected)  # the case is not trivial
    np.testing.assert_array_equal(inside_any_ball(query, centres, radii, **blocks), expected)


@pytest.mark.parametrize("blocks", BLOCKS)
def test_sum_pairwise_distances_matches_pdist(blocks):
    x = np.random.default_rng(4).normal(size=(75, 9)) + 100.0
    assert sum_pairwise_distances(x, **blocks) == pytest.approx(pdist(x).sum(), rel=1e-10)


@pytest.mark.parametrize("blocks", BLOCKS)
def test_mutual_ball_membership_equals_two_one_way_queries(blocks):
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(70, 3)), rng.normal(size=(50, 3)) + 0.7
    radii_a, radii_b = rng.uniform(0.1, 0.8, 70), rng.uniform(0.1, 0.8, 50)
    a_in_b, b_in_a = mutual_ball_membership(a, radii_a, b, radii_b, **blocks)
    np.testing.assert_array_equal(a_in_b, (cdist(a, b) <= radii_b[None, :]).any(axis=1))
    np.testing.assert_array_equal(b_in_a, (cdist(b, a) <= radii_a[None, :]).any(axis=1))
    np.testing.assert_array_equal(a_in_b, inside_any_ball(a, b, radii_b, **blocks))
