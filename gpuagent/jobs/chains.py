"""Chained jobs: a job that runs `--after` another job, each time a run of it succeeds.

Chains are checked across all jobs whenever one changes (`add`, `sync`): each job named
upstream must exist, no chain may come back to where it started, and a chain holds at
most MAX_CHAIN_JOBS jobs. Only chains through a changed job are judged, so one broken
job file elsewhere does not block an unrelated change.

A circle can still be written by hand into the job files (`sync` refuses it but keeps
the timers it had): a run never starts a follower that lies on one, or each success
would start the next job round the circle, forever; `show`, `status` and `doctor` name it.
"""

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING

from gpuagent.core.errors import InvalidInput
from gpuagent.core.paths import Paths
from gpuagent.jobs.inventory import job_afters

if TYPE_CHECKING:
    from gpuagent.jobs.job import Job

MAX_CHAIN_JOBS = 5  # train -> evaluate -> promote fits with room to spare


def check_chains(afters: Mapping[str, str | None], changed: Collection[str]) -> None:
    """`afters`: every job's upstream (None: it follows none), as it will be once the
    change is made; `changed`: the jobs the change writes."""
    for job in afters:
        chain = upstream_chain(afters, job)
        if not set(chain) & set(changed):
            continue
        last = chain[-1]
        if afters.get(last) is not None and afters[last] not in afters:
            raise InvalidInput(
                f"job {last} runs --after {afters[last]}, and there is no job {afters[last]}",
                f"add job {afters[last]} first, or give {last} another --after",
            )
        if afters.get(last) in chain:
            circle = circle_through(afters, afters[last])
            raise InvalidInput(
                f"jobs would follow each other in a circle: {circle_words(circle)}", "break the circle: one of them must not run --after"
            )
        if len(chain) > MAX_CHAIN_JOBS:
            raise InvalidInput(
                f"chain {' -> '.join(reversed(chain))} has {len(chain)} jobs; at most {MAX_CHAIN_JOBS} may follow one another",
                "start a later part of it on its own schedule",
            )


def upstream_chain(afters: Mapping[str, str | None], job: str) -> list[str]:
    """`job`, the job it runs after, that job's upstream, and so on: up to a job that
    follows none, a job that does not exist, or the first repeat (not included)."""
    chain = [job]
    while (upstream := afters.get(chain[-1])) is not None and upstream in afters and upstream not in chain:
        chain.append(upstream)
    return chain


def circle_through(afters: Mapping[str, str | None], job: str) -> list[str] | None:
    """The circle `job` lies on, in the order its jobs' successes would start one another,
    from `job` round to `job` again; None when it lies on none."""
    chain = upstream_chain(afters, job)
    if afters.get(chain[-1]) != job:
        return None
    return [job, *reversed(chain)]


def circles(afters: Mapping[str, str | None]) -> list[list[str]]:
    """Every circle of --after jobs, once each, from its first job by name."""
    return [circle for job in sorted(afters) if (circle := circle_through(afters, job)) is not None and job == min(circle)]


def circle_words(circle: list[str]) -> str:
    return " -> ".join(circle)


def circle_problem(circle: list[str]) -> str:
    """What a circle written into the job files does, and what to do about it; named from
    its first job by name, wherever it was found."""
    ring = circle[:-1]
    first = ring.index(min(ring))
    ring = ring[first:] + ring[:first]
    return f"{circle_words([*ring, ring[0]])}: --after circle; its followers are never started; fix the job files"


def followers(afters: Mapping[str, str | None], job: str) -> list[str]:
    """The jobs that run after `job`, by name."""
    return sorted(name for name, upstream in afters.items() if upstream == job)


def check_chain_change(paths: Paths, changed: dict[str, "Job"]) -> None:
    """Refuse `changed` (jobs about to be written) if they would make a chain of --after
    jobs that cannot work: to a missing job, in a circle, or too long."""
    check_chains({**job_afters(paths), **{name: job.after for name, job in changed.items()}}, changed)
