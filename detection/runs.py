"""A sender's runs of messages, read together (``RiskModel.run_gap``): a threat typed as a burst of short
messages ("i have your pics", "pay me $300", "or i send them", "to all your followers") reads as one.

``find_runs`` finds, for a batch of rows in conversation order, each row that continues its sender's run
(in the batch or, at a conversation's first rows, in the prior state), the run's text read together, and
the runs each conversation's new state keeps open. The same runs come out whether a conversation is scored
in one call or a message at a time, as the state keeps each open run's last texts and their evidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from detection.model import RUN_ASIDE_CHARS, RUN_ASIDE_WORDS, RUN_CHARS, RUN_MESSAGES, RUN_OTHERS, RiskModel
from detection.stage_model import WORD
from detection.state import N_RISK, QUANT, ConversationState


class OpenRun(NamedTuple):
    """A sender's run up to their last message, as the conversation's state keeps it."""

    sender: str | None
    texts: tuple[str, ...]  # the last RUN_MESSAGES - 1 messages of the run, each its last RUN_CHARS characters
    evidence: tuple[tuple[int, ...], ...]  # each one's own risk-stage evidence, in units of 1/QUANT
    ts: float = 0.0  # when the sender last wrote (kept for the runs of other senders than the last)


class Runs(NamedTuple):
    """A sender's runs of messages, read together (``RiskModel.run_gap``)."""

    owners: list[int]  # rows that continue a run of their sender, in row order
    joined: list[str]  # each such row's run read as one text: up to RUN_MESSAGES messages, the row's last
    parts: np.ndarray  # (owners, risk stages): each stage's largest evidence among the run's messages read alone
    open: list[OpenRun]  # per conversation, for its new state: its last sender's run
    # per conversation, with ``RiskModel.run_asides``: other senders' runs still open, the latest first
    others: tuple[tuple[OpenRun, ...], ...] = ()


def with_runs(model: RiskModel, runs: Runs, proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stage probabilities with each run's reading: a stage's evidence of a message in a run is the run's read
    together where that is more than any of its messages has alone (what only the messages together say, as
    "i have your pics", "pay me $300", "or i send them", "to all your followers"), else the message's own; and
    where it was so, per owner and risk stage. A run's earlier messages are not counted again in a later one."""
    if not runs.joined:
        return proba, np.zeros((0, proba.shape[1] - 1), dtype=bool)
    joined = model.evidence(runs.joined).proba[:, 1:]
    gain = np.rint(joined * QUANT).astype(np.int64) > runs.parts  # integers: the same in any batching
    rows = np.array(runs.owners)
    proba = proba.copy()
    proba[rows, 1:] = np.where(gain, np.maximum(proba[rows, 1:], joined), proba[rows, 1:])
    proba[:, 0] = np.maximum(1.0 - proba[:, 1:].sum(axis=1), 0.0)
    return proba, gain


def is_aside(text: str) -> bool:
    """Whether another sender's message is short enough not to end a run (``RiskModel.run_asides``): at most
    ``RUN_ASIDE_WORDS`` words and ``RUN_ASIDE_CHARS`` characters ("what", "??", "who is this")."""
    return len(text) <= RUN_ASIDE_CHARS and len(WORD.findall(text)) <= RUN_ASIDE_WORDS


def prior_runs(prior: ConversationState, asides: bool) -> dict[str, OpenRun]:
    """The runs a state keeps open, by sender: its last sender's (written by this version: as many texts as
    evidence), and with ``asides`` the others'."""
    found: dict[str, OpenRun] = {}
    if (prior.run_texts and len(prior.run_evidence) == len(prior.run_texts) and prior.run_sender is not None
            and prior.last_ts is not None):
        found[prior.run_sender] = OpenRun(prior.run_sender, prior.run_texts, prior.run_evidence, prior.last_ts)
    if asides:
        for sender, ts, texts, evidence in prior.other_runs:
            if texts and len(texts) == len(evidence):
                found.setdefault(sender, OpenRun(sender, texts, evidence, ts))
    return found


def find_runs(senders: Sequence[str], texts: Sequence[str], ts: np.ndarray, starts: np.ndarray,
              priors: list[ConversationState], gap: int, own: np.ndarray, code: np.ndarray,
              asides: bool = False) -> Runs:
    """Each message sent within ``gap`` seconds of its sender's message before it (in this batch or, for the
    sender's first row of a conversation here, in the prior state) joined to the run of that sender's messages
    up to it, and each stage's largest evidence (``own``: each row's, in units of 1/QUANT) among them. Another
    sender's message in between ends the run, unless ``asides`` and it is short (``is_aside``). Earlier
    messages of a run are kept as their last ``RUN_CHARS`` characters and their own evidence, the same in a
    state carried between calls as in one batch, so a conversation scored in one call and one scored a message
    at a time read the same runs. Rows are in conversation order, each conversation's from ``starts``;
    ``code``: each row's sender as a number. Only the rows in a run and those whose sender's message before it
    is not the row before are visited one by one."""
    return _RunReader(senders, texts, ts, starts, priors, gap, own, code, asides).runs()


class _RunReader:
    """``find_runs``'s pass over one batch: which row continues which (``prev``, ``follows``), the runs that
    go back into prior states (``carried``), and from those each run's text and the runs left open."""

    def __init__(self, senders: Sequence[str], texts: Sequence[str], ts: np.ndarray, starts: np.ndarray,
                 priors: list[ConversationState], gap: int, own: np.ndarray, code: np.ndarray, asides: bool) -> None:
        self.senders, self.texts, self.ts, self.own, self.gap, self.asides = senders, texts, ts, own, gap, asides
        n = len(texts)
        self.bounds = list(zip(starts.tolist(), [*starts[1:].tolist(), n], strict=True))
        self.short: dict[int, bool] = {}  # ``is_aside`` of the rows asked about
        self.prev, self.follows = self._links(np.repeat(np.arange(len(starts)), np.diff(np.append(starts, n))), code)
        self.prior_runs = [prior_runs(prior, asides) for prior in priors]
        self.carried = self._carried()

    def between(self, lo: int, hi: int) -> bool:
        """Whether rows ``lo..hi-1``, other senders' messages, leave a run open: there are none, or with
        ``asides`` each is short (``is_aside``)."""
        if lo == hi:
            return True
        if not self.asides:
            return False
        short = self.short
        for r in range(lo, hi):
            if (found := short.get(r)) is None:
                found = short[r] = is_aside(self.texts[r])
            if not found:
                return False
        return True

    def _links(self, segment: np.ndarray, code: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each row's sender's row before it in its conversation in this batch (else -1), and whether the row
        continues the run ending there (sent within the gap, nothing between that ends a run)."""
        n = len(segment)
        index = np.arange(n)
        order = np.lexsort((index, code, segment))
        same = (code[order][1:] == code[order][:-1]) & (segment[order][1:] == segment[order][:-1])
        prev = np.full(n, -1)
        prev[order[1:][same]] = order[:-1][same]
        follows = (prev >= 0) & (self.ts - self.ts[np.maximum(prev, 0)] <= self.gap)
        for i in np.flatnonzero(follows & (prev < index - 1)).tolist():
            follows[i] = self.between(int(prev[i]) + 1, i)
        return prev, follows

    def _carried(self) -> dict[int, OpenRun]:
        """The rows whose run goes back into the prior state: each sender's first row of a conversation here,
        sent within the gap of that sender's open run, with nothing before it here that ends the run."""
        senders, ts, gap = self.senders, self.ts, self.gap
        carried: dict[int, OpenRun] = {}
        for (a, b), runs in zip(self.bounds, self.prior_runs, strict=True):
            if not runs:
                continue
            first: dict[str, int] = {}  # each sender's first row in this conversation's rows of the batch
            latest_run = max(run.ts for run in runs.values())
            for i in range(a, b):
                first.setdefault(senders[i], i)
                if not self.between(i, i + 1) or runs.keys() <= first.keys() or ts[i] - latest_run > gap:
                    break
            for sender, i in first.items():
                # a message arriving late (sent before the run's last) joins it only if sent within the gap of it
                if (run := runs.get(sender)) is not None and abs(ts[i] - run.ts) <= gap and self.between(a, i):
                    carried[i] = run
        return carried

    def before(self, i: int) -> tuple[list[str], list[list[int]]]:
        """The kept texts and evidence of the run before row ``i``: earlier rows, then the prior state."""
        rows: list[int] = []
        j = i
        while self.follows[j] and len(rows) < RUN_MESSAGES - 1:
            j = int(self.prev[j])
            rows.append(j)
        rows.reverse()
        kept, kept_evidence = [self.texts[r][-RUN_CHARS:] for r in rows], [self.own[r].tolist() for r in rows]
        if j in self.carried and len(rows) < RUN_MESSAGES - 1:  # the run goes back into the prior state
            room = RUN_MESSAGES - 1 - len(rows)
            run = self.carried[j]
            kept = [*run.texts[-room:], *kept]
            kept_evidence = [*(list(e) for e in run.evidence[-room:]), *kept_evidence]
        return kept, kept_evidence

    def open_run(self, r: int) -> OpenRun:
        """The run up to row ``r``, as a state keeps it."""
        kept, kept_evidence = self.before(r)
        drop = max(len(kept) - (RUN_MESSAGES - 2), 0)
        return OpenRun(self.senders[r], (*kept[drop:], self.texts[r][-RUN_CHARS:]),
                       (*(tuple(e) for e in kept_evidence[drop:]), tuple(self.own[r].tolist())), float(self.ts[r]))

    def others(self, k: int, a: int, b: int) -> tuple[OpenRun, ...]:
        """Conversation ``k``'s (rows ``a..b-1``) other senders' runs still open after its last row, the latest
        first: those of its rows here, then those of its prior state that nothing here ended."""
        senders, ts, last = self.senders, self.ts, b - 1
        latest: dict[str, int] = {}  # other senders' last rows here, the latest first
        for r in range(last - 1, a - 1, -1):
            if ts[last] - ts[r] > self.gap:  # an older run could not go on
                break
            if senders[r] != senders[last]:
                latest.setdefault(senders[r], r)
            if not self.between(r, r + 1) or len(latest) == RUN_OTHERS:
                break
        found = [self.open_run(r) for r in latest.values() if self.between(r + 1, b)]
        if len(found) < RUN_OTHERS and self.between(a, b):
            found += [run for sender, run in self.prior_runs[k].items()
                      if sender != senders[last] and sender not in latest]
        return tuple(sorted((run for run in found if ts[last] - run.ts <= self.gap), key=lambda run: -run.ts)
                     [:RUN_OTHERS])

    def runs(self) -> Runs:
        """Each row that continues a run, the run read together and its messages' largest evidence alone; each
        conversation's open runs."""
        owners: list[int] = []
        joined: list[str] = []
        parts: list[list[int]] = []
        in_run = self.follows.copy()
        in_run[list(self.carried)] = True
        for i in np.flatnonzero(in_run).tolist():
            kept, kept_evidence = self.before(i)
            if kept:
                owners.append(i)
                joined.append(" ".join([*kept, self.texts[i]]))
                parts.append([max(stage) for stage in zip(self.own[i].tolist(), *kept_evidence, strict=True)])
        open_runs: list[OpenRun] = []
        others: list[tuple[OpenRun, ...]] = []
        for k, (a, b) in enumerate(self.bounds):
            if b == a:
                continue
            open_runs.append(self.open_run(b - 1))
            if self.asides:
                others.append(self.others(k, a, b))
        return Runs(owners, joined, np.array(parts, dtype=np.int64).reshape(-1, N_RISK), open_runs, tuple(others))
