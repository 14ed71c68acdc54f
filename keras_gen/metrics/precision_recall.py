"""Improved precision and recall (Kynkäänniemi, Karras, Laine, Lehtinen & Aila 2019,
"Improved Precision and Recall Metric for Assessing Generative Models", section 3, eqs. 1-2).

Each feature set approximates its data manifold by a union of balls: every point phi gets a
ball whose radius is the distance to its k-th nearest neighbour within its own set,
NND_k(phi). A sample is "inside" a manifold if it falls in at least one of its balls:

    f(phi, Phi) = 1  if  ||phi - phi'|| <= ||phi' - NN_k(phi')||  for some phi' in Phi   (eq. 1)

    precision(Phi_r, Phi_g) = 1/|Phi_g| sum_{phi_g} f(phi_g, Phi_r)                      (eq. 2)
    recall(Phi_r, Phi_g)    = 1/|Phi_r| sum_{phi_r} f(phi_r, Phi_g)

Precision is the fraction of generated samples that look real (quality); recall is the fraction
of real samples the generator can produce (coverage). The paper uses k = 3 and VGG16 fc2
features of 50,000 images; with few samples the manifolds are coarse and both numbers are noisy.
"""

from __future__ import annotations

from keras_gen.metrics.checks import as_feature_pair, check_int
from keras_gen.metrics.distances import inside_any_ball, kth_neighbour_distance, mutual_ball_membership

NEIGHBOURS = 3  # the paper's k


def manifold_coverage(query, points, k: int = NEIGHBOURS, batch_size: int | None = None) -> float:
    """Fraction of `query` rows inside the k-NN manifold of `points` (eq. 1 averaged)."""
    radii = kth_neighbour_distance(points, k, batch_size)
    return float(inside_any_ball(query, points, radii, batch_size).mean())


def precision_recall(real, fake, k: int = NEIGHBOURS, batch_size: int | None = None,
                     real_radii=None) -> tuple[float, float]:
    """(precision, recall) of generated features `fake` against `real` features, both (n, dim).

    `k` is the neighbourhood size for the manifold radii (paper default 3); each set needs at
    least k + 1 samples. `batch_size` bounds memory (query rows per distance block; default
    chooses ~64 MB blocks). `real_radii`: `kth_neighbour_distance(real, k)` computed before, for
    a real set scored against several fake ones (an evaluation's samples, matched samples and
    floor): its k-NN search is the larger part of the work.
    """
    k = check_int(k, "k")
    real, fake = as_feature_pair(
        real, fake, "real features", "generated features", min_count=k + 1,
        purpose=f"Precision/recall with k={k} (each point needs k other points for its radius)",
    )
    if real_radii is None:
        radii_real = kth_neighbour_distance(real, k, batch_size)
    elif len(real_radii) != len(real):
        raise ValueError(f"real_radii holds {len(real_radii)} radii for {len(real)} real features")
    else:
        radii_real = real_radii
    radii_fake = kth_neighbour_distance(fake, k, batch_size)
    # the real-fake distances serve both directions, so they are computed once
    real_in_fake, fake_in_real = mutual_ball_membership(real, radii_real, fake, radii_fake, batch_size)
    return float(fake_in_real.mean()), float(real_in_fake.mean())
