"""The PromQL that gpuagent's monitoring assets hold, read out for tests: every query of
the Grafana dashboard (Grafana's variables replaced by concrete values, so Prometheus can
parse it) and every expression of the alerting rules, and the metric names each uses."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import yaml  # PyYAML, which apprise (a dependency) requires

from gpuagent.observe.metrics import FAMILIES

# The names gpuagent's families have as Prometheus reads them: the text format names an
# info family's sample `_info` and a counter's `_total`.
GPUAGENT_NAMES = frozenset(family.name + {"info": "_info", "counter": "_total"}.get(family.kind, "") for family in FAMILIES.values())

# Names that can stand where a metric name stands but are the language's own: binary
# operators and modifiers written as words, and the number literals Inf/NaN. Functions
# and aggregations are recognised by the "(" that follows them.
_KEYWORDS = {"and", "or", "unless", "atan2", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right", "inf", "nan"}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"' r"|'(?:[^'\\]|\\.)*'" r"|`[^`]*`")
_NAME_MATCHER = re.compile(r'__name__\s*=\s*"([^"]+)"')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_BRACKETS = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", re.IGNORECASE)
_NUMBER = re.compile(r"(?<![\w:.])(?:0x[0-9a-f]+|\d[\w.]*|\.\d[\w.]*)", re.IGNORECASE)
_IDENTIFIER = re.compile(r"(?<![\w:.])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?")


def metric_names(expr: str) -> set[str]:
    """The metric names `expr` selects: every identifier that is not a function, an
    aggregation, a keyword, a label name (in {...}, by/on/... lists or strings) or part
    of a number or duration."""
    names = set(_NAME_MATCHER.findall(expr))
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub(" ", text)  # label matchers; their values are strings already gone
    text = _BRACKETS.sub(" ", text)  # ranges and subqueries: [5m], [$__range], [1h:1m]
    text = _GROUPING.sub(" ", text)  # by (job_name), on(instance), group_left(version) ...
    text = _NUMBER.sub(" ", text)  # 2, 0.5, 1e3, 0x1f, and durations such as `offset 5m`
    for name, call in _IDENTIFIER.findall(text):
        if not call and name.lower() not in _KEYWORDS:
            names.add(name)
    return names


# Grafana's variables as Prometheus would receive them from this dashboard.
GRAFANA_VALUES = {
    "__range_s": "86400",
    "__range_ms": "86400000",
    "__range": "1d",
    "__rate_interval": "1m",
    "__interval_ms": "15000",
    "__interval": "15s",
    "job_name": "nightly",
    "instance": "gpu1:9100",
    "host": "gpu1",
    "datasource": "prometheus",
}
# `$1` is not one: it is label_replace's group, which Grafana leaves as it is.
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$([A-Za-z_]\w*)")


def grafana_to_promql(expr: str, values: dict[str, str] | None = None) -> str:
    """`expr` with $var, ${var}, ${var:format} and [[var]] replaced by `values` over
    GRAFANA_VALUES; an unknown variable is an error (the dashboard uses one nobody checked)."""
    known = {**GRAFANA_VALUES, **(values or {})}

    def value(match: re.Match) -> str:
        name = next(group for group in match.groups() if group)
        if name not in known:
            raise KeyError(f"unknown Grafana variable ${name} in {expr!r}")
        return known[name]

    return _VARIABLE.sub(value, expr)


# -- the dashboard -------------------------------------------------------------------


def load_dashboard(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def panels(dashboard: dict) -> Iterator[dict]:
    """Every panel, those inside (collapsed) rows too."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def dashboard_queries(dashboard: dict) -> list[tuple[str, str]]:
    """(where, PromQL as written) for every panel target and query variable; a
    variable's label_values(METRIC, LABEL) gives METRIC, the part Prometheus runs."""
    found = []
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            found.append((f"panel {panel.get('title')!r} target {target.get('refId')}", target.get("expr", "")))
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        query = variable.get("query")
        query = query.get("query", "") if isinstance(query, dict) else query or ""
        label_values = re.fullmatch(r"\s*label_values\((.*),\s*\w+\s*\)\s*", query)
        found.append((f"variable {variable.get('name')}", label_values.group(1) if label_values else query))
    return found


# -- the rules -------------------------------------------------------------------------


def load_rules(path: Path) -> dict:
    return yaml.safe_load(Path(path).read_text())


def alerting_rules(rules: dict) -> list[dict]:
    return [rule for group in rules.get("groups", []) for rule in group.get("rules", []) if "alert" in rule]


def rule_expressions(rules: dict) -> list[tuple[str, str]]:
    """(rule name, expression) of every rule, alerting and recording."""
    return [(rule.get("alert") or rule.get("record"), rule["expr"]) for group in rules.get("groups", []) for rule in group.get("rules", [])]
