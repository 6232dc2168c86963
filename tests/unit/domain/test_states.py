import pytest

from suanli.domain.errors import InvalidTransition
from suanli.domain.jobs.states import PENDING, TERMINAL, TRANSITIONS, JobState, check_transition


def test_terminal_states_have_no_way_out():
    assert TERMINAL == {JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.REJECTED}
    for state in TERMINAL:
        for target in JobState:
            with pytest.raises(InvalidTransition):
                check_transition(state, target)


def test_every_non_terminal_state_can_be_cancelled():
    for state in set(JobState) - TERMINAL:
        check_transition(state, JobState.CANCELLED)


def test_preempted_and_lost_are_requeued():
    check_transition(JobState.PREEMPTED, JobState.QUEUED)
    check_transition(JobState.LOST, JobState.QUEUED)


def test_a_job_cannot_skip_placement():
    with pytest.raises(InvalidTransition, match="a queued job cannot become running"):
        check_transition(JobState.QUEUED, JobState.RUNNING)


def test_finished_job_explains_itself():
    with pytest.raises(InvalidTransition, match="already succeeded"):
        check_transition(JobState.SUCCEEDED, JobState.CANCELLED)


def test_every_state_is_reachable_from_submitted():
    seen, frontier = {JobState.SUBMITTED}, [JobState.SUBMITTED]
    while frontier:
        for nxt in TRANSITIONS[frontier.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    assert seen == set(JobState)
    assert PENDING <= seen
