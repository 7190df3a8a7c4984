"""The --sweep grammar (queue/sweeps.py): one run per combination, each with its values in
its environment; every malformed sweep refused with a message naming what is wrong."""

import pytest

from gpuagent.core.errors import InvalidInput
from gpuagent.queue.sweeps import ENV_PREFIX, MAX_SWEEP_RUNS, MAX_VALUE_LENGTH, parse_sweeps, sweep_env


def test_combinations_come_in_the_order_given_the_last_name_varying_fastest():
    sweep = parse_sweeps(["lr=1e-3,3e-4,1e-4", "batch=32,64"])
    assert sweep.names == ("lr", "batch")
    assert sweep.combinations() == [
        {"lr": "1e-3", "batch": "32"},
        {"lr": "1e-3", "batch": "64"},
        {"lr": "3e-4", "batch": "32"},
        {"lr": "3e-4", "batch": "64"},
        {"lr": "1e-4", "batch": "32"},
        {"lr": "1e-4", "batch": "64"},
    ]


def test_the_count_is_the_product_of_the_value_counts():
    assert len(parse_sweeps(["a=1,2,3", "b=x,y", "c=p,q,r,s"]).combinations()) == 3 * 2 * 4


def test_no_sweep_is_one_run_with_no_values():
    assert parse_sweeps([]).combinations() == [{}]


def test_one_value_is_one_run():
    assert parse_sweeps(["seed=7"]).combinations() == [{"seed": "7"}]


def test_a_value_may_hold_what_an_environment_value_may():
    assert parse_sweeps(["model=resnet-50=v2", "opt=adam w"]).combinations() == [{"model": "resnet-50=v2", "opt": "adam w"}]


def test_exactly_the_limit_is_accepted():
    values = ",".join(str(value) for value in range(MAX_SWEEP_RUNS))
    assert len(parse_sweeps([f"seed={values}"]).combinations()) == MAX_SWEEP_RUNS


def test_each_run_gets_its_values_as_environment_variables():
    assert sweep_env({"lr": "3e-4", "batch_size": "64"}) == {"GPUAGENT_SWEEP_lr": "3e-4", "GPUAGENT_SWEEP_batch_size": "64"}
    assert ENV_PREFIX == "GPUAGENT_SWEEP_"
    assert sweep_env({}) == {}


REFUSED = {
    # spec(s): what the message must name
    "empty spec": ([""], "''"),
    "no values": (["lr="], "--sweep lr: '' is not a value"),
    "empty value among others": (["lr=1,,2"], "--sweep lr: '' is not a value"),
    "trailing comma": (["lr=1,2,"], "--sweep lr: '' is not a value"),
    "missing =": (["lr"], "--sweep 'lr': not NAME=V1,V2"),
    "no name": (["=1,2"], "--sweep '=1,2': not NAME=V1,V2"),
    "name starting with a digit": (["1lr=1"], "'1lr=1'"),
    "name with a dash": (["learning-rate=1"], "'learning-rate=1'"),
    "name with a space": ([" lr=1"], "' lr=1'"),
    "name too long": ([f"{'n' * 65}=1"], "n" * 65),
    "name twice": (["lr=1", "lr=2"], "--sweep lr: given twice"),
    "value twice": (["lr=1,2,1"], "--sweep lr: '1' is given twice"),
    "value with a tab": (["lr=a\tb"], "--sweep lr: 'a\\tb' is not a value"),
    "value with a newline": (["lr=1\n"], "--sweep lr: '1\\n' is not a value"),
    "value too long": ([f"lr={'9' * (MAX_VALUE_LENGTH + 1)}"], "is not a value"),
    "over the limit, one name": ([f"seed={','.join(str(value) for value in range(MAX_SWEEP_RUNS + 1))}"], f"{MAX_SWEEP_RUNS + 1} combinations"),
    "over the limit, in product": (["a=1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16", "b=1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17"], "272 combinations"),
}


@pytest.mark.parametrize("case", REFUSED)
def test_a_malformed_sweep_is_refused_naming_what_is_wrong(case):
    specs, named = REFUSED[case]
    with pytest.raises(InvalidInput) as refused:
        parse_sweeps(specs)
    assert named in refused.value.message, refused.value.message
    assert "\n" not in refused.value.message
    assert refused.value.hint


def test_the_limit_message_says_the_limit():
    with pytest.raises(InvalidInput, match=f"more than the {MAX_SWEEP_RUNS} one submit may queue"):
        parse_sweeps(["a=1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16", "b=1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17"])
