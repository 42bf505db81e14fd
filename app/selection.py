"""The node selector: one way to choose a node, for creation, the backlog and requeues.

Candidates come from an index of capabilities and job kinds whose lists are kept in load
order, so selection walks the least loaded nodes that meet the job's requirements and
stops once it has the few the backend will try: its cost follows how many nodes it must
pass over, not the size of the fleet. Filters drop nodes that cannot take the job,
counting why; the survivors are ordered (preferred node, affinity, least loaded with a
random pick among the best few) and the backend reserves a slot on the first that still
has one. Only an affinity key, whose node is chosen among all eligible ones, and a job
that nothing can take (whose explanation counts every node) walk every match.
"""

from __future__ import annotations

import hashlib
import heapq
import random
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from app.models import Explanation, Job, Node, NodeStatus

MAX_CANDIDATES = 8


@dataclass(frozen=True)
class SelectorOptions:
    node_timeout_s: float = 10.0
    best_few: int = 3
    retry_without_exclusions: bool = True
    max_cpu_percent: float = 100.0
    max_memory_percent: float = 95.0


@dataclass(frozen=True)
class Selection:
    """Nodes to try in order (empty when none fits), and why."""

    candidates: list[str]
    explanation: Explanation

    @property
    def node_id(self) -> str | None:
        return self.candidates[0] if self.candidates else None


@dataclass
class FleetView:
    """A snapshot of the nodes with its capability and kind index, each list by load."""

    nodes: dict[str, Node] = field(default_factory=dict)
    index: dict[str, set[str]] = field(default_factory=dict)
    by_load: dict[str, list[Node]] = field(default_factory=dict)
    taken_at: float = float("-inf")

    @classmethod
    def build(cls, nodes: Iterable[Node], now: float) -> FleetView:
        view = cls(taken_at=now)
        for node in sorted(nodes, key=lambda node: node.load):
            view.nodes[node.node_id] = node
            for key in _index_keys(node):
                view.index.setdefault(key, set()).add(node.node_id)
                view.by_load.setdefault(key, []).append(node)
        return view

    def free_slots(self, now: float, node_timeout_s: float) -> int:
        """Free slots on nodes that take jobs, as this snapshot knows them."""
        return sum(
            node.free
            for node in self.nodes.values()
            if node.status is NodeStatus.ALIVE
            and not node.draining
            and now - node.last_seen <= node_timeout_s
        )

    def requirement_keys(self, job: Job) -> list[str]:
        """The index keys a node must be under to run ``job``, the rarest first."""
        keys = [f"kind:{job.kind}", *(f"cap:{c}" for c in job.requires)]
        return sorted(keys, key=lambda key: len(self.index.get(key, ())))

    def meeting(self, job: Job) -> Iterator[Node]:
        """Nodes that offer every capability the job requires and can run its kind,
        least loaded first (as of the snapshot)."""
        rarest, *others = self.requirement_keys(job)
        sets = [self.index.get(key, set()) for key in others]
        for node in self.by_load.get(rarest, ()):
            if all(node.node_id in s for s in sets):
                yield node

    def matching(self, job: Job) -> set[str]:
        """Ids of the nodes that ``meeting`` yields."""
        return {node.node_id for node in self.meeting(job)}


def _index_keys(node: Node) -> list[str]:
    return [*(f"cap:{c}" for c in node.capabilities), *(f"kind:{k}" for k in node.kinds)]


class Selector:
    """Chooses nodes for jobs from a fleet snapshot. Stateless apart from its random source."""

    def __init__(self, options: SelectorOptions | None = None, seed: int | None = None) -> None:
        self.options = options or SelectorOptions()
        self._random = random.Random(seed)

    def select(self, job: Job, fleet: FleetView, now: float) -> Selection:
        excluded = {*job.exclude_nodes, *job.tried_nodes}
        selection = self._select(job, fleet, now, excluded)
        relax = self.options.retry_without_exclusions and excluded
        if selection.candidates or not relax or not selection.explanation.rejected.get("excluded"):
            return selection
        retry = self._select(job, fleet, now, set())
        retry.explanation.relaxed_exclusions = True
        return retry

    def _select(self, job: Job, fleet: FleetView, now: float, excluded: set[str]) -> Selection:
        enough = 0 if job.affinity_key else MAX_CANDIDATES
        rejected: Counter[str] = Counter()
        eligible: list[Node] = []
        for node in fleet.meeting(job):
            if self._passes(node, job, now, excluded, rejected):
                eligible.append(node)
                if len(eligible) == enough:
                    break
        if not eligible:
            rejected.update(_lacking(job, fleet))
            return Selection([], Explanation(candidates=0, rejected=dict(rejected)))
        self._add_preferred(job, fleet, now, excluded, eligible)
        ordered, reason = self._order(job, eligible)
        explanation = Explanation(
            node_id=ordered[0], candidates=len(eligible), rejected=dict(rejected), reason=reason
        )
        return Selection(ordered, explanation)

    def _add_preferred(
        self, job: Job, fleet: FleetView, now: float, excluded: set[str], eligible: list[Node]
    ) -> None:
        """Add the preferred node when the walk stopped before reaching it and it passes."""
        preferred = fleet.nodes.get(job.preferred_node or "")
        if preferred is None or preferred in eligible:
            return
        keys = fleet.requirement_keys(job)
        meets = all(preferred.node_id in fleet.index.get(key, ()) for key in keys)
        if meets and not self._rejection(preferred, job, now, excluded):
            eligible.insert(0, preferred)

    def _passes(
        self, node: Node, job: Job, now: float, excluded: set[str], rejected: Counter[str]
    ) -> bool:
        reason = self._rejection(node, job, now, excluded)
        if reason:
            rejected[reason] += 1
        return not reason

    def _rejection(self, node: Node, job: Job, now: float, excluded: set[str]) -> str:
        if node.status is NodeStatus.OFFLINE or now - node.last_seen > self.options.node_timeout_s:
            return "offline"
        if node.draining or node.status is NodeStatus.DRAINING:
            return "draining"
        if node.node_id in excluded:
            return "excluded"
        for key, value in job.selector.items():
            if node.labels.get(key) != value:
                return f"lack label {key}={value}"
        if node.free <= 0:
            return "full"
        if node.cpu_percent > self.options.max_cpu_percent:
            return "cpu busy"
        if node.memory_percent > self.options.max_memory_percent:
            return "memory busy"
        return ""

    def _order(self, job: Job, eligible: list[Node]) -> tuple[list[str], str]:
        preferred = job.preferred_node
        if preferred and any(node.node_id == preferred for node in eligible):
            rest = [node for node in eligible if node.node_id != preferred]
            return [preferred, *self._least_loaded(rest)], "preferred node"
        if job.affinity_key:
            return _rendezvous(job.affinity_key, eligible), "affinity key"
        ordered = self._least_loaded(eligible)
        best = next(node for node in eligible if node.node_id == ordered[0])
        return ordered, f"least loaded ({best.used}/{best.slots} slots used)"

    def _least_loaded(self, nodes: list[Node]) -> list[str]:
        """The lowest loads first, shuffling the best few so that schedulers spread out."""
        lowest = heapq.nsmallest(MAX_CANDIDATES, nodes, key=lambda node: node.load)
        few = min(self.options.best_few, len(lowest))
        head = lowest[:few]
        self._random.shuffle(head)
        return [node.node_id for node in head + lowest[few:]]


def _rendezvous(key: str, nodes: list[Node]) -> list[str]:
    """Highest random weight first: the same key keeps its node while that node is eligible."""

    def weight(node: Node) -> bytes:
        return hashlib.blake2b(f"{key}\x00{node.node_id}".encode(), digest_size=8).digest()

    best = heapq.nlargest(MAX_CANDIDATES, nodes, key=weight)
    return [node.node_id for node in best]


def _lacking(job: Job, fleet: FleetView) -> Counter[str]:
    """Count the nodes that miss a requirement of ``job`` by the first one each lacks."""
    counts: Counter[str] = Counter()
    needs = [(f"kind:{job.kind}", f"lack handler {job.kind}")]
    needs += [(f"cap:{cap}", f"lack {cap}") for cap in job.requires]
    for node_id in fleet.nodes:
        for key, reason in needs:
            if node_id not in fleet.index.get(key, ()):
                counts[reason] += 1
                break
    return counts


def reason_category(reason: str) -> str:
    """A rejection reason without its specifics, for bounded metric labels."""
    if reason.startswith("lack label"):
        return "lack label"
    if reason.startswith("lack handler"):
        return "lack handler"
    if reason.startswith("lack "):
        return "lack capability"
    return reason
