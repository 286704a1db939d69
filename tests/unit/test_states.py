"""The state table: which action is accepted in which state."""

import pytest

from workers.common.states import Action, Status, refusal

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
