from collections import Counter

from app.models import NodeStatus
from app.selection import FleetView, Selector, SelectorOptions
from tests.factories import job, node

NOW = 1000.0


def fleet(*nodes):
    return FleetView.build(nodes, NOW)


def test_picks_the_one_node_that_has_the_capability_and_a_free_slot() -> None:
    view = fleet(
        node("a", capabilities=["asr:en"]),
        node("b", capabilities=["asr:en", "nmt:en-zh"], running=2),
        node("c", capabilities=["asr:en", "nmt:en-zh"], running=1),
    )
    selection = Selector(seed=1).select(job(requires=["nmt:en-zh"]), view, NOW)
    assert selection.candidates == ["c"]
    assert selection.explanation.rejected == {"full": 1}


def test_with_no_node_eligible_it_counts_each_reason() -> None:
    view = fleet(
        node("a", capabilities=["asr:en"]),
        node("b", capabilities=["nmt:en-zh"], running=2),
        node("c", capabilities=["nmt:en-zh"], last_seen=NOW - 60),
        node("d", capabilities=["nmt:en-zh"], status=NodeStatus.OFFLINE),
        node("e", capabilities=["nmt:en-zh"], draining=True),
    )
    selection = Selector().select(job(requires=["nmt:en-zh"]), view, NOW)
    assert selection.candidates == []
    assert selection.explanation.rejected == {
        "full": 1,
        "offline": 2,
        "draining": 1,
        "lack nmt:en-zh": 1,
    }
    assert selection.explanation.summary() == "2 offline, 1 draining, 1 full, 1 lack nmt:en-zh"


def test_nodes_without_a_handler_for_the_kind_are_never_candidates() -> None:
    view = fleet(node("a", kinds=["echo"]), node("b", kinds=["sleep"]))
    selection = Selector().select(job(kind="sleep"), view, NOW)
    assert selection.candidates == ["b"]
    missing = Selector().select(job(kind="tts"), view, NOW)
    assert missing.explanation.rejected == {"lack handler tts": 2}


def test_labels_must_all_match_the_selector() -> None:
    view = fleet(node("eu", labels={"pool": "eu"}), node("us", labels={"pool": "us"}))
    selection = Selector().select(job(selector={"pool": "eu"}), view, NOW)
    assert selection.candidates == ["eu"]
    assert selection.explanation.rejected == {"lack label pool=eu": 1}


def test_the_preferred_node_wins_only_when_it_passes_every_filter() -> None:
    view = fleet(node("a"), node("b"), node("c", running=2))
    assert Selector().select(job(preferred_node="b"), view, NOW).candidates[0] == "b"
    fallback = Selector().select(job(preferred_node="c"), view, NOW)
    assert fallback.candidates and "c" not in fallback.candidates


def test_excluded_nodes_are_skipped_and_retried_only_when_nothing_else_fits() -> None:
    view = fleet(node("a"), node("b"))
    assert Selector().select(job(exclude_nodes=["a"]), view, NOW).candidates == ["b"]
    relaxed = Selector().select(job(exclude_nodes=["a", "b"]), view, NOW)
    assert sorted(relaxed.candidates) == ["a", "b"]
    assert relaxed.explanation.relaxed_exclusions
    strict = Selector(SelectorOptions(retry_without_exclusions=False))
    assert strict.select(job(exclude_nodes=["a", "b"]), view, NOW).candidates == []


def test_tried_nodes_count_as_exclusions() -> None:
    view = fleet(node("a"), node("b"))
    requeued = job()
    requeued.tried_nodes = ["a"]
    assert Selector().select(requeued, view, NOW).candidates == ["b"]


def test_an_affinity_key_sticks_to_one_node_while_it_is_eligible() -> None:
    view = fleet(*(node(f"n{i}", slots=100) for i in range(10)))
    chosen = {
        Selector(seed=i).select(job(affinity_key="session-7"), view, NOW).node_id for i in range(20)
    }
    assert len(chosen) == 1
    first = chosen.pop()
    assert first is not None
    without = fleet(*(node(f"n{i}", slots=100) for i in range(10) if f"n{i}" != first))
    moved = Selector().select(job(affinity_key="session-7"), without, NOW).node_id
    others = Selector().select(job(affinity_key="session-8"), view, NOW).node_id
    assert moved != first
    assert others is not None


def test_affinity_spreads_different_keys_over_the_fleet() -> None:
    view = fleet(*(node(f"n{i}", slots=100) for i in range(5)))
    picks = Counter(
        Selector().select(job(affinity_key=f"s{i}"), view, NOW).node_id for i in range(500)
    )
    assert set(picks) == {f"n{i}" for i in range(5)}
    assert min(picks.values()) > 50


def test_least_loaded_first_with_a_random_pick_among_the_best_few() -> None:
    view = fleet(
        node("idle-1", slots=4),
        node("idle-2", slots=4),
        node("half", slots=4, running=2),
        node("busy", slots=4, running=3),
    )
    firsts = Counter(Selector(seed=i).select(job(), view, NOW).node_id for i in range(200))
    assert firsts["busy"] == 0
    assert firsts["idle-1"] > 30 and firsts["idle-2"] > 30
    one = Selector(SelectorOptions(best_few=1), seed=3).select(job(), view, NOW)
    assert one.candidates[-1] == "busy"


def test_resource_thresholds_reject_hot_nodes() -> None:
    view = fleet(node("hot", memory_percent=99.0), node("cool", memory_percent=20.0))
    selection = Selector().select(job(), view, NOW)
    assert selection.candidates == ["cool"]
    assert selection.explanation.rejected == {"memory busy": 1}


def test_candidates_come_from_the_index_not_a_scan() -> None:
    nodes = [node(f"cpu-{i}", capabilities=["cpu"]) for i in range(5000)]
    nodes.append(node("gpu-1", capabilities=["gpu"]))
    view = fleet(*nodes)
    selection = Selector().select(job(requires=["gpu"]), view, NOW)
    assert selection.candidates == ["gpu-1"]
    assert selection.explanation.candidates == 1
    assert view.matching(job(requires=["gpu"])) == {"gpu-1"}


def test_broad_requirements_stop_at_the_least_loaded_nodes_that_pass() -> None:
    nodes = [node(f"n{i:03}", slots=10, running=1 + i % 9) for i in range(300)]
    nodes.append(node("idle", slots=10))
    nodes.append(node("idle-eu", slots=10, labels={"pool": "eu"}))
    view = fleet(*nodes)
    selection = Selector(SelectorOptions(best_few=1)).select(job(), view, NOW)
    assert selection.candidates[:2] in (["idle", "idle-eu"], ["idle-eu", "idle"])
    assert len(selection.candidates) == 8
    labelled = Selector().select(job(selector={"pool": "eu"}), view, NOW)
    assert labelled.candidates == ["idle-eu"]
    assert labelled.explanation.reason == "least loaded (0/10 slots used)"
    preferred = Selector().select(job(preferred_node="n005"), view, NOW)
    assert preferred.candidates[0] == "n005"
    excluded = Selector().select(job(exclude_nodes=["idle", "idle-eu"]), view, NOW)
    assert not {"idle", "idle-eu"} & set(excluded.candidates)


def test_a_broad_fleet_with_every_node_full_still_explains_itself() -> None:
    view = fleet(*(node(f"n{i}", slots=1, running=1) for i in range(100)))
    selection = Selector().select(job(), view, NOW)
    assert selection.candidates == []
    assert selection.explanation.summary() == "100 full"


class CountingSelector(Selector):
    """A selector that counts the nodes its filters look at."""

    looked_at = 0

    def _rejection(self, node, job, now, excluded):  # type: ignore[no-untyped-def]
        self.looked_at += 1
        return super()._rejection(node, job, now, excluded)


def test_selection_looks_at_the_same_few_nodes_however_large_the_fleet() -> None:
    looked_at = []
    for size in (100, 2_000):
        # A rare capability: one node in eleven offers it.
        nodes = [node(f"n{i:05}", capabilities=["asr:en"], running=i % 2) for i in range(size)]
        nodes += [node(f"cpu-{i:06}", capabilities=["cpu"]) for i in range(10 * size)]
        selector = CountingSelector(seed=1)
        selection = selector.select(job(requires=["asr:en"]), fleet(*nodes), NOW)
        assert len(selection.candidates) == 8
        assert all(int(node_id[1:]) % 2 == 0 for node_id in selection.candidates)
        looked_at.append(selector.looked_at)
    assert looked_at == [8, 8]


def test_an_affinity_key_still_chooses_among_every_eligible_node() -> None:
    nodes = [node(f"n{i:03}", slots=4, running=i % 4) for i in range(200)]
    view = fleet(*nodes)
    chosen = {Selector().select(job(affinity_key=f"s{i}"), view, NOW).node_id for i in range(50)}
    # Rendezvous over all 200 nodes spreads keys widely, and not only over the idle ones.
    assert len(chosen) > 30
    assert any(view.nodes[node_id].running for node_id in chosen if node_id)
