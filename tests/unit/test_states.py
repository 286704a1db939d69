"""The state table: which action is accepted in which state."""

import pytest

from workers.common.domain.states import CONTROL, Action, Status, refusal, target

ACCEPTED = [
    (Action.PAUSE, Status.RECORDING),
    (Action.PAUSE, Status.PUSHING),
    (Action.RESUME, Status.PAUSED),
    (Action.REFRESH, Status.RECORDING),
    (Action.REFRESH, Status.PAUSED),
    (Action.STOP, Status.NORMAL),
    (Action.STOP, Status.RECORDING),
    (Action.STOP, Status.PAUSED),
    (Action.DESCRIBE, Status.FINISHED),
]
REFUSED = [
    (Action.PAUSE, Status.PAUSED),
    (Action.PAUSE, Status.NORMAL),
    (Action.RESUME, Status.RECORDING),
    (Action.REFRESH, Status.NORMAL),
    (Action.STOP, Status.FINISHED),
    (Action.STOP, Status.CANCELED),
    (Action.STOP, Status.TRANSCODE),
    (Action.PAUSE, Status.UPLOAD),
]


@pytest.mark.parametrize(("action", "status"), ACCEPTED)
def test_accepted(action, status):
    assert refusal(action, status, stop_requested=False) is None


@pytest.mark.parametrize(("action", "status"), REFUSED)
def test_refused_with_a_message_naming_state_and_action(action, status):
    why = refusal(action, status, stop_requested=False)
    assert why is not None
    assert str(status) in why and str(action) in why


def test_nothing_but_describe_after_a_stop_was_requested():
    assert "Stop was already requested" in refusal(Action.PAUSE, Status.RECORDING, True)
    assert refusal(Action.DESCRIBE, Status.RECORDING, True) is None


# ---- where an accepted action moves the task at once (store.control applies it) ---------

MOVES = [
    (Action.PAUSE, Status.RECORDING, Status.RECORDING, Status.PAUSED),
    (Action.PAUSE, Status.PUSHING, Status.PUSHING, Status.PAUSED),
    (Action.RESUME, Status.PAUSED, Status.RECORDING, Status.RECORDING),
    (Action.RESUME, Status.PAUSED, Status.PUSHING, Status.PUSHING),
    (Action.STOP, Status.NORMAL, Status.RECORDING, Status.CANCELED),
]
LEFT_TO_THE_WORKER = [
    (Action.STOP, Status.RECORDING),
    (Action.STOP, Status.PAUSED),
    (Action.REFRESH, Status.RECORDING),
    (Action.REFRESH, Status.PAUSED),
    (Action.DESCRIBE, Status.RECORDING),
]


@pytest.mark.parametrize(("action", "status", "capturing", "moved"), MOVES)
def test_an_accepted_action_moves_the_task_as_the_table_says(action, status, capturing, moved):
    assert target(action, status, capturing) is moved


@pytest.mark.parametrize(("action", "status"), LEFT_TO_THE_WORKER)
def test_other_accepted_actions_leave_the_state_to_the_worker(action, status):
    assert target(action, status, Status.RECORDING) is None


def test_every_move_starts_from_a_state_the_action_is_accepted_in():
    for control in CONTROL.values():
        assert set(control.moves) <= control.accepted
