"""history's filters: what they select, and that none of them reads the whole table."""

import itertools
import sqlite3

import pytest

from gpuagent.host.historydb import HistoryStore, runs_query
from tests.support.records import T0, record, run_record

FILTERS = list(itertools.product([None, "nightly"], [None, "failed"], [None, T0]))


@pytest.fixture
def database(tmp_path):
    path = tmp_path / "history.db"
    runs = []
    for number in range(40):
        job = ("nightly", "hourly")[number % 2]
        status = ("succeeded", "failed", "oom-killed", "succeeded")[number // 2 % 4]
        runs.append(run_record(f"r{number:02d}", job, status, T0 + (number - 20) * 3600))
    record(path, *runs)
    return path


@pytest.mark.parametrize(("job", "status", "since"), FILTERS)
def test_each_filter_combination_reads_through_an_index_in_order(database, job, status, since):
    sql, params = runs_query(job, 50, status=status, since=since)
    plan = " / ".join(row[3] for row in sqlite3.connect(database).execute(f"EXPLAIN QUERY PLAN {sql}", params))

    assert "USING INDEX" in plan or "USING COVERING INDEX" in plan, plan
    assert "TEMP B-TREE" not in plan, f"sorts instead of reading in index order: {plan}"
    # every filter narrows the index search itself: no row is read only to be dropped
    for column, value in (("job=?", job), ("status=?", status), ("started_at>?", since)):
        assert (column in plan) == (value is not None), plan


@pytest.mark.parametrize(("job", "status", "since"), FILTERS)
def test_each_filter_combination_selects_what_it_says_newest_first(database, job, status, since):
    with HistoryStore(database) as store:
        everything = store.runs(None, 1000)
        found = store.runs(job, 5, status=status, since=since)

    expected = [
        run
        for run in everything
        if (job is None or run.job == job) and (status is None or run.status == status) and (since is None or run.started_at >= since)
    ][:5]
    assert found == expected
    assert found, "the case selects something"
