"""Folds for cross-fitting: the training conversations split so that the stage model's evidence on each
fold comes from models fitted on the others. Whole clusters of similar conversations, an offender's
conversations and an augmented copy with its original each go to one fold, so that out-of-fold evidence
reads as evidence on new conversations does.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.cluster import KMeans
from sklearn.decomposition import TruncatedSVD

from detection.features import MessageFeaturizer
from training.augment import SUFFIX
from training.config import TrainConfig
from training.data import LabelledData, offender_groups

CLUSTER_FEATURES = 2**14  # hashed n-gram width for clustering conversations (coarse is enough)


def whole_groups(groups: Sequence[Sequence[str]], k: int, rng: np.random.Generator) -> dict[str, int]:
    """A fold in ``range(k)`` for each member of ``groups``, a group's all in one: the groups in a random order,
    each to the fold that holds the fewest so far."""
    sizes = np.zeros(k, dtype=np.int64)
    folds: dict[str, int] = {}
    for i in rng.permutation(len(groups)).tolist():
        fold = int(np.argmin(sizes))
        sizes[fold] += len(groups[i])
        folds.update((c, fold) for c in groups[i])
    return folds


def fold_per_conversation(data: LabelledData, config: TrainConfig) -> dict[str, int]:
    """Cross-fitting fold per conversation; an augmented copy always goes in its original's fold.

    With ``cross_fit_clusters``, whole clusters of similar conversations (k-means on their mean
    n-gram vectors) go to one fold, so much of the out-of-fold evidence comes from kinds of talk
    and wording the stage model has not seen, as on new data. The split is seeded random when
    there are too few conversations, or when a fold would leave only one class to train on.
    Either way, a near-duplicate on the other side of a fold would make out-of-fold evidence look
    better than evidence on new conversations is, and the sequence model would trust it too much; so
    the conversations of one offender, where the data names them (``offender_id``), share a fold.
    """
    originals = sorted({c.split(SUFFIX)[0] for c in data.labels})
    fold: dict[str, int] = {}
    n_clusters = config.cross_fit_clusters
    if n_clusters >= config.cross_fit_folds and len(originals) >= 2 * n_clusters:
        fold = _clustered(data, originals, n_clusters, config)
        for k in range(config.cross_fit_folds):  # every fold must leave both classes to train on
            rest = {data.labels[c] for c, f in fold.items() if f != k}
            if rest != {0, 1} or k not in fold.values():
                fold = {}
                break
    if not fold:
        rng = np.random.default_rng(config.seed)
        groups = offender_groups(originals, data.offender_ids)  # an augmented copy follows its original
        if len(groups) < len(originals):  # an offender's conversations in one fold
            fold = whole_groups(groups, config.cross_fit_folds, rng)
        else:
            order = rng.permutation(len(originals))
            fold = dict(zip(originals, (order % config.cross_fit_folds).tolist(), strict=True))
    return {c: fold[c.split(SUFFIX)[0]] for c in data.labels}


def conversation_means(conversation: np.ndarray, n_conversations: int) -> sp.csr_matrix:
    """A matrix that, multiplied with one row per message, gives each conversation's mean row.

    ``conversation`` is each message's conversation number, in ``range(n_conversations)``.
    """
    counts = np.bincount(conversation, minlength=n_conversations)
    return sp.csr_matrix((1.0 / counts[conversation], (conversation, np.arange(len(conversation)))),
                         shape=(n_conversations, len(conversation)))


def _clustered(data: LabelledData, ids: list[str], n_clusters: int, config: TrainConfig) -> dict[str, int]:
    """Folds for ``ids`` by whole clusters, largest cluster first into the smallest fold."""
    members = set(ids)
    rows = [i for i, e in enumerate(data.events) if e.conversation_id in members]
    texts = [data.events[i].text for i in rows]
    index = {c: i for i, c in enumerate(ids)}
    conversation = np.fromiter((index[data.events[i].conversation_id] for i in rows), dtype=np.int64, count=len(rows))
    vectors = MessageFeaturizer(CLUSTER_FEATURES).fit(texts).transform(texts)
    mean = conversation_means(conversation, len(ids)) @ vectors
    reduced = TruncatedSVD(min(50, mean.shape[1] - 1), random_state=config.seed).fit_transform(mean)
    reduced /= np.linalg.norm(reduced, axis=1, keepdims=True) + 1e-12
    cluster = KMeans(n_clusters, n_init=4, random_state=config.seed).fit_predict(reduced)
    sizes, fold_of_cluster = np.zeros(config.cross_fit_folds), {}
    for c in np.argsort(-np.bincount(cluster, minlength=n_clusters), kind="stable"):
        fold_of_cluster[int(c)] = int(np.argmin(sizes))
        sizes[fold_of_cluster[int(c)]] += int((cluster == c).sum())
    return {cid: fold_of_cluster[int(c)] for cid, c in zip(ids, cluster, strict=True)}
