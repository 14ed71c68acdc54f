"""Inception Score (Salimans et al. 2016, "Improved Techniques for Training GANs", section 4).

For class predictions p(y|x) of a classifier on generated images,

    IS = exp( E_x [ KL( p(y|x) || p(y) ) ] ),      p(y) = E_x [ p(y|x) ]

i.e. high when each image is confidently one class (low-entropy p(y|x)) and the classes are
spread out (high-entropy p(y)). It ranges from 1 (every image gets the same prediction) to the
number of classes C (confident predictions, uniformly spread over the classes). As in the
reference implementation the images are cut into `splits` parts, the score is computed on each
(with that part's own marginal p(y)), and the mean and standard deviation over parts are
reported. The score depends on the classifier; it is only comparable between runs that use the
same one.
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_softmax, xlogy

from keras_gen.errors import KerasGenError
from keras_gen.metrics.checks import as_features, check_int


def _log_probs(values: np.ndarray, from_logits: bool) -> tuple[np.ndarray, np.ndarray]:
    """Validated (probabilities, log-probabilities), both float64 (N, C)."""
    x = values.astype(np.float64)
    if from_logits:
        log_p = log_softmax(x, axis=1)
        return np.exp(log_p), log_p
    if x.min() < 0:
        raise KerasGenError(
            "Inception Score got negative 'probabilities'. If these are logits pass from_logits=True."
        )
    row_sums = x.sum(axis=1)
    worst = np.abs(row_sums - 1.0).max()
    if worst > 1e-3:
        raise KerasGenError(
            f"Inception Score probabilities must sum to 1 per row (worst row sums to "
            f"{row_sums[np.argmax(np.abs(row_sums - 1.0))]:.4g}). Pass softmax outputs, or logits "
            "with from_logits=True."
        )
    x = x / row_sums[:, None]  # remove float32 rounding so the score is exact
    with np.errstate(divide="ignore"):
        return x, np.log(x)


def inception_score(probs_or_logits, splits: int = 10, from_logits: bool = False) -> tuple[float, float]:
    """(mean, std) of exp(E_x KL(p(y|x) || p(y))) over `splits` parts of the predictions.

    `probs_or_logits`: (N, C) class probabilities (rows sum to 1) or, with `from_logits=True`,
    unnormalised logits. Each split needs at least one sample; 0 log 0 is taken as 0.
    """
    values = as_features(probs_or_logits, "class predictions", min_count=1, purpose="Inception Score")
    if values.shape[1] < 2:
        raise KerasGenError(
            f"Inception Score needs predictions over at least 2 classes, got {values.shape[1]}."
        )
    splits = check_int(splits, "splits")
    if splits > len(values):
        raise KerasGenError(
            f"Inception Score with splits={splits} needs at least {splits} samples, got {len(values)}. "
            "Pass more samples or fewer splits."
        )
    p, log_p = _log_probs(values, from_logits)
    scores = []
    for idx in np.array_split(np.arange(len(p)), splits):
        p_part, log_p_part = p[idx], log_p[idx]
        p_y = p_part.mean(axis=0)
        # KL(p(y|x) || p(y)) = sum_y p log p - p log p(y); xlogy makes 0 log 0 = 0, and where
        # p(y|x) > 0 the marginal p(y) > 0 too, so no inf survives.
        plogp = p_part * np.where(p_part > 0, log_p_part, 0.0)
        kl = plogp.sum(axis=1) - xlogy(p_part, p_y[None, :]).sum(axis=1)
        scores.append(np.exp(kl.mean()))
    scores = np.asarray(scores)
    return float(scores.mean()), float(scores.std())
