"""Which chains of --after jobs are allowed (jobs/chains.py)."""

import pytest

from gpuagent.core.errors import InvalidInput
from gpuagent.jobs.chains import MAX_CHAIN_JOBS, check_chains, followers, upstream_chain


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
