"""The slot arithmetic the capacity route and KEDA read, and what a refused Start says."""

import pytest

from workers.common.domain.slots import Capacity
from workers.common.domain.store import no_slot_message


def pool(**figures: int | bool) -> Capacity:
    base: dict = dict(active=0, queued=0, slots=0, workers=0, autoscaled=0, ceiling=0)
    return Capacity(**{**base, **figures})


def test_demand_counts_queued_and_running_tasks_once():
    # 5 admitted tasks, 2 of them still in the queue: the queue is inside the admission set.
    load = pool(active=5, queued=2, slots=4, workers=2)
    assert (load.demand, load.busy, load.free) == (5, 3, 1)


def test_busy_pods_keep_their_demand_once_the_queue_is_empty():
    # The old trigger read the queue's length: 0 here, and KEDA scaled busy pods down.
    load = pool(active=8, queued=0, slots=8, workers=2)
    assert (load.demand, load.free) == (8, 0)


@pytest.mark.parametrize(
    ("figures", "admissible"),
    [
        (dict(active=3, slots=4), 1),
        (dict(active=4, slots=4), 0),
        (dict(active=6, slots=4), 0),  # workers died under their tasks: never negative
        (dict(active=4, slots=4, autoscaled=12), 8),  # slots KEDA can still add
        (dict(active=4, slots=12, autoscaled=12), 8),  # ... and has added: not counted twice
        (dict(active=4, slots=16, autoscaled=12), 12),  # more pods than KEDA's maximum
        (dict(active=0, slots=0, autoscaled=0), 0),  # no live worker, nothing to add
        (dict(active=2, slots=40, ceiling=3), 1),  # the hard ceiling wins
        (dict(active=2, slots=0, counts_slots=False), None),  # no limit at all
        (dict(active=2, slots=0, counts_slots=False, ceiling=5), 3),
    ],
)
def test_admissible_starts_follow_the_admission_rule(figures, admissible):
    assert pool(**figures).admissible == admissible


def test_a_start_without_a_live_worker_says_so():
    assert no_slot_message("panorama", 0, 0) == (
        "panorama has 0 live slots: no panorama worker is running; retry later"
    )


def test_a_start_past_the_slots_names_the_slots_it_counted():
    message = no_slot_message("pusher", 4, 12)
    assert "fill the 12 slots its autoscaler can reach (4 live)" in message
    assert "fill its 4 live slots;" in no_slot_message("pusher", 4, 0)
    assert "fill its 16 live slots;" in no_slot_message("pusher", 16, 12)
