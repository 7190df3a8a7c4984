"""The monitoring assets gpuagent ships (monitoring/): the Grafana dashboard is a
provisionable JSON model, and
every metric either of them uses is one gpuagent writes (or dcgm-exporter's or
node_exporter's textfile collector's). That each query parses is checked against a
real Prometheus in tests/engines/test_prometheus_queries.py."""

import re

import pytest
import yaml

from gpuagent.observe.health import FAILURES
from gpuagent.runs.record import SKIPPED, Status
from tests.support.cache import REPO
from tests.support.prometheus import DASHBOARD, RULES, RULES_TEST
from tests.support.promql import (
    GPUAGENT_NAMES,
    alerting_rules,
    dashboard_queries,
    grafana_to_promql,
    load_dashboard,
    load_rules,
    metric_names,
    panels,
    rule_expressions,
)

# What the assets may read besides gpuagent's own: dcgm-exporter's GPU metrics (every
# series of a GPU a run holds carries hpc_job) and the textfile collector's own two.
DCGM_NAMES = {"DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE"}
TEXTFILE_NAMES = {"node_textfile_mtime_seconds", "node_textfile_scrape_error"}
KNOWN_NAMES = GPUAGENT_NAMES | DCGM_NAMES | TEXTFILE_NAMES
DATASOURCE = "${datasource}"
PROVISIONING = REPO / "monitoring/grafana/provisioning.yaml"


def unknown_names(expr: str) -> set[str]:
    return metric_names(expr) - KNOWN_NAMES


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return load_dashboard(DASHBOARD)


@pytest.fixture(scope="module")
def rules() -> dict:
    return load_rules(RULES)


# -- the metric name extractor, on its own ------------------------------------------


@pytest.mark.parametrize(
    "expr, names",
    [
        ("gpuagent_jobs", {"gpuagent_jobs"}),
        ('sum by (job_name, status) (increase(gpuagent_job_runs_total{job_name=~"a|b"}[$__range])) > bool 0', {"gpuagent_job_runs_total"}),
        (
            "time() - gpuagent_job_last_success_timestamp_seconds > 2 * gpuagent_job_period_seconds offset 5m",
            {"gpuagent_job_last_success_timestamp_seconds", "gpuagent_job_period_seconds"},
        ),
        ('label_replace(node_textfile_mtime_seconds{file=~".*"}, "job_name", "$1", "file", "(.+)")', {"node_textfile_mtime_seconds"}),
        ("a_total / ignoring (file) group_left (version) b_info and on(instance) c unless d or absent(e)", {"a_total", "b_info", "c", "d", "e"}),
        ("clamp_min(2 * (x or 0 * y), 3600) + 1e3 + 0x1F + Inf - NaN", {"x", "y"}),
        ("sum without (status) (max_over_time(gpu:util:ratio[1h:1m]))", {"gpu:util:ratio"}),
        ('{__name__="by_name"}', {"by_name"}),
    ],
)
def test_metric_names_finds_exactly_the_metrics(expr, names):
    assert metric_names(expr) == names


def test_a_misspelt_metric_name_is_caught():
    # the check the tests below make, on names one letter off the real ones
    assert unknown_names('sum by (job_name) (gpuagent_job_runs_totl{status="failed"})') == {"gpuagent_job_runs_totl"}
    assert unknown_names("DCGM_FI_DEV_GPU_UTL / node_textfile_mtime") == {"DCGM_FI_DEV_GPU_UTL", "node_textfile_mtime"}
    assert unknown_names("gpuagent_job_consecutive_failures >= 3") == set()


def test_grafana_variables_become_values():
    assert grafana_to_promql('increase(x{job_name=~"$job_name"}[$__range]) / $__range_s + rate(y[${__rate_interval}])') == (
        'increase(x{job_name=~"nightly"}[1d]) / 86400 + rate(y[1m])'
    )
    with pytest.raises(KeyError, match="unknown Grafana variable"):
        grafana_to_promql("x[$nobody_defined_this]")


# -- the Prometheus rules ---------------------------------------------------------------


def test_every_alert_has_a_firing_and_a_quiet_unit_test(rules):
    tests = yaml.safe_load(RULES_TEST.read_text())
    assert tests["rule_files"] == [RULES.name]
    firing, quiet = set(), set()
    for case in tests["tests"]:
        for check in case.get("alert_rule_test", []):
            (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {rule["alert"] for rule in alerting_rules(rules)}
    assert firing == names
    assert quiet == names


def test_rules_are_one_group_of_alerts_that_say_what_to_look_at(rules):
    assert [group["name"] for group in rules["groups"]] == ["gpuagent"]
    alerts = alerting_rules(rules)
    assert len(alerts) == len(rules["groups"][0]["rules"]) >= 8
    for rule in alerts:
        assert re.fullmatch(r"Gpuagent[A-Z]\w+", rule["alert"]), rule["alert"]
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]
        assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]
        if any(name.startswith("gpuagent_job_") for name in metric_names(rule["expr"])):
            assert "{{ $labels.job_name }}" in rule["annotations"]["summary"], rule["alert"]
            assert "gpuagent history {{ $labels.job_name }}" in rule["annotations"]["description"], rule["alert"]


def test_every_alert_names_its_host(rules):
    # With several hosts on one Prometheus, an alert must say which one: Prometheus'
    # `instance` in its summary (often all a notification shows) and its description.
    # absent() drops every label, the host's with them: no rule may use it.
    for rule in alerting_rules(rules):
        assert "{{ $labels.instance }}" in rule["annotations"]["summary"], rule["alert"]
        assert "{{ $labels.instance }}" in rule["annotations"]["description"], rule["alert"]
        assert not re.search(r"\babsent(?:_over_time)?\s*\(", rule["expr"]), rule["alert"]
        assert "without (instance" not in rule["expr"] and not re.search(r"\b(?:sum|max|min|count|group|avg)\s*\(", rule["expr"]), (
            f"{rule['alert']}: an aggregation without `by (instance, ...)` loses the host"
        )


def test_the_failing_runs_alert_fires_at_once(rules):
    # an end-to-end test waits for it to fire about a minute after a third failure
    (failing,) = [rule for rule in alerting_rules(rules) if rule["alert"] == "GpuagentJobFailing"]
    assert failing["for"] == "0m"
    assert failing["expr"].strip() == "gpuagent_job_consecutive_failures >= 3"


def test_rules_name_the_statuses_gpuagent_has(rules):
    # a status added to gpuagent must not fall out of the rules that list statuses
    (never,) = [rule for rule in alerting_rules(rules) if rule["alert"] == "GpuagentJobNeverSucceeded"]
    failed, skipped = re.findall(r'status=~"([^"]+)"', never["expr"])
    assert set(failed.split("|")) == {status.value for status in FAILURES}
    assert set(skipped.split("|")) == {status.value for status in SKIPPED}
    (oom,) = [rule for rule in alerting_rules(rules) if rule["alert"] == "GpuagentJobOutOfMemory"]
    assert set(re.findall(r'status=~"([^"]+)"', oom["expr"])[0].split("|")) == {Status.CUDA_OOM.value, Status.OOM_KILLED.value}


def test_rules_use_only_metrics_that_exist(rules):
    expressions = rule_expressions(rules)
    assert expressions
    unknown = {name: unknown_names(expr) for name, expr in expressions if unknown_names(expr)}
    assert unknown == {}
    used = set().union(*(metric_names(expr) for _, expr in expressions))
    assert used >= {"gpuagent_job_last_success_timestamp_seconds", "gpuagent_job_period_seconds", "gpuagent_job_missed_fire", "gpuagent_info"}
    assert used >= TEXTFILE_NAMES


# -- the Grafana dashboard ----------------------------------------------------------------


def test_dashboard_is_a_provisionable_model(dashboard):
    text = DASHBOARD.read_text()
    assert dashboard["uid"] == "gpuagent"
    assert dashboard["title"]
    assert 36 <= dashboard["schemaVersion"] <= 41
    # the import-only form (grafana#10786) would leave provisioned panels without a source
    assert "__inputs" not in dashboard
    assert "DS_PROMETHEUS" not in text


def test_dashboard_variables(dashboard):
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert list(variables) == ["datasource", "instance", "host", "job_name"]
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for name in ("instance", "host", "job_name"):
        variable = variables[name]
        assert variable["type"] == "query"
        assert variable["datasource"]["uid"] == DATASOURCE
        assert variable["multi"] is True and variable["includeAll"] is True, name
    assert query_of(variables["instance"]).replace(" ", "") == "label_values(gpuagent_info,instance)"
    assert variables["instance"]["current"]["value"] == ["$__all"], "every host by default"
    # the chosen hosts without their ports, for dcgm-exporter's targets; nobody picks it
    assert query_of(variables["host"]).replace(" ", "") == 'label_values(gpuagent_info{instance=~"$instance"},instance)'
    assert variables["host"]["regex"] == "/^([^:]+)/" and variables["host"]["hide"] == 2
    assert query_of(variables["job_name"]).replace(" ", "") == 'label_values(gpuagent_job_info{instance=~"$instance"},job_name)'


def query_of(variable: dict) -> str:
    return variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]


# What selects the chosen hosts: gpuagent's and node_exporter's series by their instance;
# dcgm-exporter's, another target of the same host with another port, by the host's name.
HOST_MATCHERS = {"gpuagent": 'instance=~"$instance"', "node_textfile": 'instance=~"$instance"', "DCGM_": 'instance=~"$host(:[0-9]+)?"'}


def selectors(expr: str) -> list[tuple[str, str]]:
    """(metric name, its {...} matchers or "") of every selector in `expr`."""
    return [
        (match[1], match[2] or "")
        for name in metric_names(expr)
        for match in re.finditer(rf"(?<![\w:])({re.escape(name)})(?![\w:])\s*(\{{[^}}]*\}})?", expr)
    ]


def test_selectors_are_read_out_whole():
    found = selectors('a{x="1"} / (b + a) * c {y=~"$y"} + ab')
    assert sorted(found) == [("a", ""), ("a", '{x="1"}'), ("ab", ""), ("b", ""), ("c", '{y=~"$y"}')]


def test_every_query_reads_only_the_chosen_hosts(dashboard):
    queries = dashboard_queries(dashboard)
    assert len(queries) > 15
    for where, expr in queries:
        if where == "variable instance":
            continue  # the list of hosts to choose from
        for name, matchers in selectors(expr):
            (matcher,) = [matcher for prefix, matcher in HOST_MATCHERS.items() if name.startswith(prefix)]
            assert matcher in matchers, f"{where}: {name}{matchers} is not limited to the chosen hosts ({matcher})"


def test_the_hosts_table_has_a_line_per_host(dashboard):
    (table,) = [panel for panel in panels(dashboard) if panel["title"] == "Hosts" and panel["type"] == "table"]
    assert table["gridPos"]["y"] <= 1, "the first thing seen"
    for target in table["targets"]:
        assert target["format"] == "table" and target["instant"] is True
        assert re.search(r"\b(?:count|sum|max) by \(host\) \(", target["expr"]), target["expr"]
        assert "label_replace(" in target["expr"] and '"host", "$1", "instance", "([^:]+).*"' in target["expr"]
    assert [transformation["id"] for transformation in table["transformations"]] == ["merge", "organize"]
    columns = set(table["transformations"][1]["options"]["renameByName"].values())
    assert columns >= {"GPUs no run holds", "runs succeeded", "runs failed", "runs waiting in the queue", "since the last success"}
    used = set().union(*(metric_names(target["expr"]) for target in table["targets"]))
    assert used >= {"DCGM_FI_DEV_FB_USED", "gpuagent_job_runs_total", "gpuagent_queue_entries", "gpuagent_job_last_success_timestamp_seconds"}
    (per_job,) = [panel for panel in panels(dashboard) if panel["title"] == "Last success, per job and host"]
    assert per_job["transformations"][0]["options"]["renameByName"]["instance"] == "host"


def test_legends_name_the_host(dashboard):
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            if "legendFormat" in target:
                assert "{{instance}}" in target["legendFormat"], panel["title"]


def test_every_panel_reads_the_chosen_datasource(dashboard):
    queried = [panel for panel in panels(dashboard) if panel["type"] != "row"]
    assert len(queried) >= 9
    for panel in queried:
        assert panel["type"] in {"timeseries", "stat", "table"}, panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": DATASOURCE}, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == {"type": "prometheus", "uid": DATASOURCE}, panel["title"]
            assert target["expr"].strip(), panel["title"]


def test_panels_have_unique_ids_and_fit_the_grid(dashboard):
    ids = [panel["id"] for panel in panels(dashboard)]
    assert len(ids) == len(set(ids))
    for panel in panels(dashboard):
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["w"] > 0 and grid["x"] + grid["w"] <= 24, panel["title"]


def test_dashboard_uses_only_metrics_that_exist(dashboard):
    queries = dashboard_queries(dashboard)
    unknown = {where: unknown_names(expr) for where, expr in queries if unknown_names(expr)}
    assert unknown == {}


def test_dashboard_shows_what_it_promises(dashboard):
    queries = [expr for _, expr in dashboard_queries(dashboard)]
    used = set().union(*(metric_names(expr) for expr in queries))
    assert (
        used
        >= {
            "gpuagent_job_info",
            "gpuagent_job_last_run_status",
            "gpuagent_job_last_success_timestamp_seconds",
            "gpuagent_job_last_run_duration_seconds",
            "gpuagent_job_last_run_peak_vram_bytes",
            "gpuagent_job_runs_total",
            "gpuagent_job_consecutive_failures",
            "gpuagent_job_next_fire_timestamp_seconds",
        }
        | DCGM_NAMES
    )
    assert any("increase(gpuagent_job_runs_total" in expr and "[$__range]" in expr for expr in queries)
    per_host = {target["expr"] for panel in panels(dashboard) if panel["title"] == "Hosts" for target in panel.get("targets", [])}
    assert all(
        'job_name=~"$job_name"' in expr for expr in queries if "gpuagent_job_" in expr and "gpuagent_job_info" not in expr and expr not in per_host
    )
    gpu_targets = [target for panel in panels(dashboard) for target in panel.get("targets", []) if "DCGM_" in target["expr"]]
    assert gpu_targets
    assert any("{{hpc_job}}" in target.get("legendFormat", "") for target in gpu_targets)


def test_the_last_run_table_colours_every_status(dashboard):
    (table,) = [panel for panel in panels(dashboard) if panel["title"] == "Last run"]
    (status,) = [o for o in table["fieldConfig"]["overrides"] if o["matcher"]["options"] == "status"]
    (mappings,) = [p["value"] for p in status["properties"] if p["id"] == "mappings"]
    assert set(mappings[0]["options"]) == {status.value for status in Status}


def test_provisioning_points_at_the_dashboards_directory():
    provisioning = yaml.safe_load(PROVISIONING.read_text())
    assert provisioning["apiVersion"] == 1
    (provider,) = provisioning["providers"]
    assert provider["type"] == "file"
    assert provider["name"]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards/gpuagent"
    assert DASHBOARD.name in PROVISIONING.read_text()  # the comment says where the JSON goes
