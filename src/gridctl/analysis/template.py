"""AnalysisTemplates as Argo Rollouts reads them: documents, args, `{{args.name}}` substitution, metrics."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from gridctl.analysis.expr import ExprError, parse

TEMPLATE_KINDS = ("AnalysisTemplate", "ClusterAnalysisTemplate")
# Argo: a metric without interval that ends in Error is retried after this long; consecutiveErrorLimit default.
DEFAULT_ERROR_RETRY_SECONDS = 10.0
DEFAULT_CONSECUTIVE_ERROR_LIMIT = 4

_ARG_REF = re.compile(r"\{\{\s*args\.([A-Za-z0-9_.-]+?)\s*\}\}")
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


class TemplateError(Exception):
    """The template cannot become an AnalysisRun (bad document, unresolved arg, bad field)."""


def parse_duration(text: str, field_name: str) -> float:
    """A Go duration ("30s", "1m30s", "500ms") in seconds, as Argo's `DurationString` accepts it."""
    s = text.strip()
    if s in ("0", ""):
        return 0.0
    pos, total = 0, 0.0
    for m in _DURATION_PART.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    if pos != len(s) or pos == 0:
        raise TemplateError(f"{field_name}: invalid duration {text!r} (use Go durations like 30s, 1m, 500ms)")
    return total


@dataclass
class Metric:
    name: str
    provider: dict[str, Any]
    interval: float | None = None
    initial_delay: float = 0.0
    count: int | None = None
    success_condition: str = ""
    failure_condition: str = ""
    failure_limit: int = 0
    inconclusive_limit: int = 0
    consecutive_error_limit: int = DEFAULT_CONSECUTIVE_ERROR_LIMIT
    dry_run: bool = False

    @property
    def effective_count(self) -> int | None:
        """Argo: without interval and count a metric is measured once; with an interval and no count, forever."""
        if self.count is None and self.interval is None:
            return 1
        return self.count


@dataclass
class AnalysisSpec:
    """What an AnalysisRun would be created from: merged args, metrics and dryRun of one or more templates."""

    names: list[str]
    args: list[dict[str, Any]] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    dry_run: list[dict[str, Any]] = field(default_factory=list)

    @property
    def declared_args(self) -> list[str]:
        return [a["name"] for a in self.args]


def load_documents(paths: Iterable[Path | str]) -> list[dict[str, Any]]:
    """Every AnalysisTemplate / ClusterAnalysisTemplate in the files (multi-document YAML, e.g. kustomize output)."""
    yaml = YAML(typ="safe")
    found: list[dict[str, Any]] = []
    for path in paths:
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise TemplateError(f"{path}: {exc.strerror or exc}") from None
        try:
            docs = list(yaml.load_all(StringIO(text)))
        except YAMLError as exc:
            raise TemplateError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
        for doc in docs:
            if isinstance(doc, dict) and doc.get("kind") == "List":
                docs.extend(doc.get("items") or [])
                continue
            if isinstance(doc, dict) and doc.get("kind") in TEMPLATE_KINDS:
                found.append(doc)
    return found


def select(documents: list[dict[str, Any]], names: list[str]) -> AnalysisSpec:
    """Merge the chosen templates into one run spec, as a Rollout step with several templateNames does."""
    by_name = {(d.get("metadata") or {}).get("name", ""): d for d in documents}
    if not documents:
        raise TemplateError("no AnalysisTemplate or ClusterAnalysisTemplate found in the given files")
    chosen_names = names or list(by_name)
    missing = [n for n in chosen_names if n not in by_name]
    if missing:
        raise TemplateError(f"template {missing[0]!r} not found; available: {', '.join(sorted(by_name))}")
    spec = AnalysisSpec(names=chosen_names)
    seen_metrics: set[str] = set()
    args: dict[str, dict[str, Any]] = {}
    for name in chosen_names:
        body = by_name[name].get("spec") or {}
        for arg in body.get("args") or []:
            previous = args.get(arg["name"])
            # Argo merges args of several templates; two different defaults for one name are ambiguous.
            if previous and "value" in previous and "value" in arg and previous["value"] != arg["value"]:
                raise TemplateError(f"arg {arg['name']!r} has different values in different templates")
            if not previous or "value" in arg:
                args[arg["name"]] = dict(arg)
        for metric in body.get("metrics") or []:
            if metric.get("name") in seen_metrics:
                raise TemplateError(f"two metrics are named {metric.get('name')!r}")
            seen_metrics.add(metric.get("name"))
            spec.metrics.append(copy.deepcopy(dict(metric)))
        spec.dry_run.extend(body.get("dryRun") or [])
    spec.args = list(args.values())
    return spec


def resolve_args(spec: AnalysisSpec, given: Mapping[str, str]) -> dict[str, str]:
    """Values for every declared arg: given ones override template values; any arg left without a value is
    an error (Argo: "args.x was not resolved"). Unknown given args are an error too: here they are typos."""
    declared = spec.declared_args
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise TemplateError(
            f"arg {unknown[0]!r} is not declared by the template(s); declared: {', '.join(declared) or 'none'}"
        )
    values: dict[str, str] = {}
    for arg in spec.args:
        name = arg["name"]
        if name in given:
            values[name] = given[name]
        elif arg.get("value") is not None:
            values[name] = str(arg["value"])
        elif arg.get("valueFrom"):
            raise TemplateError(
                f"arg {name!r} comes from {sorted(arg['valueFrom'])[0]} in the cluster; pass --arg {name}=VALUE"
            )
        else:
            raise TemplateError(f"args.{name} was not resolved: pass --arg {name}=VALUE")
    return values


def substitute(value: Any, args: Mapping[str, str], where: str) -> Any:
    """Replace `{{args.name}}` in every string of a metric; an unknown name is an error, as in Argo."""
    if isinstance(value, str):

        def repl(m: re.Match[str]) -> str:
            if m.group(1) not in args:
                raise TemplateError(f"{where}: failed to resolve {{{{args.{m.group(1)}}}}}")
            return args[m.group(1)]

        return _ARG_REF.sub(repl, value)
    if isinstance(value, list):
        return [substitute(v, args, where) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, args, where) for k, v in value.items()}
    return value


def _int_field(raw: dict[str, Any], key: str, where: str, default: int | None) -> int | None:
    value = raw.get(key)
    if value is None:
        return default
    # count and the limits are IntOrString in Argo precisely so that they can come from args.
    try:
        return int(str(value).strip())
    except ValueError:
        raise TemplateError(f"{where}.{key}: expected an integer, got {value!r}") from None


def _dry_run_matches(patterns: list[dict[str, Any]], metric_name: str) -> bool:
    for entry in patterns:
        pattern = str(entry.get("metricName", ""))
        if pattern == "*" or pattern == metric_name:
            return True
        try:
            if re.fullmatch(pattern, metric_name):
                return True
        except re.error:
            continue
    return False


def build_metrics(spec: AnalysisSpec, args: Mapping[str, str]) -> list[Metric]:
    """Resolve args into each metric and check every field, so that errors show before the first query."""
    metrics: list[Metric] = []
    for raw_metric in spec.metrics:
        name = str(raw_metric.get("name") or "")
        where = f"metric {name!r}"
        if not name:
            raise TemplateError("a metric has no name")
        raw = substitute(raw_metric, args, where)
        provider = raw.get("provider") or {}
        if not provider:
            raise TemplateError(f"{where}: no provider")
        interval = raw.get("interval")
        metric = Metric(
            name=name,
            provider=provider,
            interval=parse_duration(str(interval), f"{where}.interval") if interval else None,
            initial_delay=parse_duration(str(raw.get("initialDelay") or "0"), f"{where}.initialDelay"),
            count=_int_field(raw, "count", where, None),
            success_condition=str(raw.get("successCondition") or ""),
            failure_condition=str(raw.get("failureCondition") or ""),
            failure_limit=_int_field(raw, "failureLimit", where, 0) or 0,
            inconclusive_limit=_int_field(raw, "inconclusiveLimit", where, 0) or 0,
            consecutive_error_limit=_int_field(
                raw, "consecutiveErrorLimit", where, DEFAULT_CONSECUTIVE_ERROR_LIMIT
            )
            or 0,
            dry_run=_dry_run_matches(spec.dry_run, name),
        )
        for key, condition in (
            ("successCondition", metric.success_condition),
            ("failureCondition", metric.failure_condition),
        ):
            if condition:
                try:
                    parse(condition)
                except ExprError as exc:
                    raise TemplateError(f"{where}.{key}: {exc}") from None
        metrics.append(metric)
    if not metrics:
        raise TemplateError("the template(s) define no metrics")
    return metrics
