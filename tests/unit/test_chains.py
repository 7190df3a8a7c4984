"""Which chains of --after jobs are allowed (jobs/chains.py)."""

import pytest

from gpuagent.core.errors import InvalidInput
from gpuagent.jobs.chains import MAX_CHAIN_JOBS, check_chains, circle_problem, circle_through, circles, followers, upstream_chain


def test_a_simple_pipeline_passes():
    afters = {"train": None, "evaluate": "train", "promote": "evaluate"}
    check_chains(afters, changed=["promote"])
    assert upstream_chain(afters, "promote") == ["promote", "evaluate", "train"]
    assert followers(afters, "train") == ["evaluate"]


def test_a_chain_to_a_missing_job_is_refused():
    with pytest.raises(InvalidInput, match="evaluate runs --after train, and there is no job train"):
        check_chains({"evaluate": "train"}, changed=["evaluate"])


def test_a_circle_is_refused_naming_it():
    with pytest.raises(InvalidInput, match="circle: a -> c -> b -> a"):
        check_chains({"a": "b", "b": "c", "c": "a"}, changed=["a"])
    with pytest.raises(InvalidInput, match="circle: a -> a"):
        check_chains({"a": "a"}, changed=["a"])


def test_a_chain_longer_than_the_limit_is_refused():
    names = [f"j{i}" for i in range(MAX_CHAIN_JOBS + 1)]
    afters = {name: (names[i - 1] if i else None) for i, name in enumerate(names)}
    with pytest.raises(InvalidInput, match=f"has {MAX_CHAIN_JOBS + 1} jobs; at most {MAX_CHAIN_JOBS}"):
        check_chains(afters, changed=[names[0]])


def test_a_broken_chain_elsewhere_does_not_block_an_unrelated_change():
    check_chains({"orphan": "gone", "nightly": None}, changed=["nightly"])


def test_a_circle_is_found_from_each_of_its_jobs_in_the_order_they_would_start():
    afters = {"a": "b", "b": "c", "c": "a", "d": "a", "e": None}
    assert circle_through(afters, "a") == ["a", "c", "b", "a"]  # a's success starts c, c's starts b, b's starts a
    assert circle_through(afters, "b") == ["b", "a", "c", "b"]
    assert circle_through(afters, "d") is None  # it follows the circle, but lies on none: it may start
    assert circle_through(afters, "e") is None
    assert circles(afters) == [["a", "c", "b", "a"]]  # once, from its first job by name


@pytest.mark.parametrize(
    ("afters", "found"),
    [
        ({"a": "b", "b": "a"}, [["a", "b", "a"]]),
        ({"solo": "solo"}, [["solo", "solo"]]),
        ({"a": "b", "b": "a", "x": "y", "y": "x", "z": "a"}, [["a", "b", "a"], ["x", "y", "x"]]),
        ({"train": None, "evaluate": "train", "promote": "evaluate"}, []),
        ({"evaluate": "gone", "promote": "evaluate"}, []),  # a chain to a missing job is broken, not a circle
        ({}, []),
    ],
)
def test_every_circle_and_only_circles_are_found(afters, found):
    assert circles(afters) == found
    on_circle = {job for circle in found for job in circle}
    assert {job for job in afters if circle_through(afters, job)} == on_circle


def test_a_circle_is_named_with_what_it_does_and_what_to_do():
    assert circle_problem(["a", "b", "a"]) == "a -> b -> a: --after circle; its followers are never started; fix the job files"
    assert circle_problem(["b", "a", "c", "b"]).startswith("a -> c -> b -> a: ")  # from its first job, wherever found
