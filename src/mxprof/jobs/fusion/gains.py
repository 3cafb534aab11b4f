"""What MKL-DNN fusion did to a graph: pure functions over graph JSON and per-node times.

- `fusion_groups(fused_graph)`: every fused node (`_sg_mkldnn_conv`, `_sg_mkldnn_fully_connected`,
  ...) with the original layers inside its subgraph and the pattern they form ("conv+bn+sum+relu").
- `layer_coverage(groups, unfused_graph, fused_graph)`: each original layer is in exactly one
  group, stays a node of its own, or was removed by the partitioner.
- `group_table(groups, unfused_series, fused_series)`: per group, primitive time before and
  after, over one trace process or several (`mxprof.timing.pooled`).
- `summary_ms(values_ms)`: the one statistics record (`mxprof.timing.stats.Stats`) of a series;
  `pooled_ms(series_per_process)` the same over several processes.
- `pattern_attribution(fused, off)`: what each `MXNET_DISABLE_MKLDNN_FUSE_*` switch costs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from mxprof.jobs.fusion.ratios import as_runs
from mxprof.timing.pooled import pooled_stats
from mxprof.timing.stats import Stats, summarize

# The fusion switches MXNet 1.9.1 reads (strings in libmxnet.so; mkldnn_conv_property.h and
# mkldnn_fc_property.h read them with dmlc::GetEnv). Value: the pattern step each one gates.
PATTERN_SWITCHES: dict[str, str] = {
    "MXNET_DISABLE_MKLDNN_FUSE_CONV_BN": "conv+bn",
    "MXNET_DISABLE_MKLDNN_FUSE_CONV_RELU": "conv+relu",
    "MXNET_DISABLE_MKLDNN_FUSE_CONV_SUM": "conv+sum",
    "MXNET_DISABLE_MKLDNN_FUSE_FC_ELTWISE": "fc+eltwise",
}

_SHORT_OP = {
    "Convolution": "conv", "BatchNorm": "bn", "elemwise_add": "sum", "_Plus": "sum",
    "_plus": "sum", "add_n": "sum", "ElementWiseSum": "sum", "FullyConnected": "fc",
    "Deconvolution": "deconv", "_contrib_quantize_v2": "quantize", "_contrib_requantize": "requantize",
}


@dataclass(frozen=True)
class FusedGroup:
    """One fused node and the original layers it absorbed, in execution order."""

    fused_node: str
    op: str
    pattern: str
    members: tuple[str, ...]
    member_ops: tuple[str, ...]

    def to_dict(self) -> dict:
        return {**asdict(self), "members": list(self.members),
                "member_ops": list(self.member_ops)}

    @classmethod
    def from_dict(cls, d: dict) -> FusedGroup:
        return cls(d["fused_node"], d["op"], d["pattern"], tuple(d["members"]),
                   tuple(d["member_ops"]))


def _short_name(node: dict) -> str:
    op = node["op"]
    if op in ("Activation", "LeakyReLU"):
        attrs = node.get("attrs", {})
        return attrs.get("act_type", "act")
    return _SHORT_OP.get(op, op)


def fusion_groups(fused_graph: dict) -> tuple[FusedGroup, ...]:
    """Fused nodes of a partitioned graph's JSON (`sym.tojson()` parsed) with their members.

    MXNet 1.9.1 keeps the original nodes, names included, in the `subgraphs` field of each
    `_sg_*` node, so membership comes from the graph itself, not from name heuristics.
    """
    groups = []
    for node in fused_graph["nodes"]:
        if not node.get("subgraphs"):
            continue
        inner = [n for n in node["subgraphs"][0]["nodes"] if n["op"] != "null"]
        groups.append(FusedGroup(
            fused_node=node["name"], op=node["op"],
            pattern="+".join(_short_name(n) for n in inner),
            members=tuple(n["name"] for n in inner),
            member_ops=tuple(n["op"] for n in inner),
        ))
    return tuple(groups)


def operator_nodes(graph: dict) -> list[tuple[str, str]]:
    return [(n["name"], n["op"]) for n in graph["nodes"] if n["op"] != "null"]


@dataclass(frozen=True)
class Coverage:
    grouped: dict[str, str]  # original layer -> fused node
    unfused: tuple[str, ...]  # layers that are still nodes of their own in the fused graph
    removed: tuple[str, ...]  # layers in neither (dropped by the partitioner)
    duplicated: tuple[str, ...]  # layers claimed by more than one group (should be empty)


def layer_coverage(groups, unfused_graph: dict, fused_graph: dict) -> Coverage:
    fused_names = {name for name, _ in operator_nodes(fused_graph)}
    grouped: dict[str, str] = {}
    duplicated = []
    for g in groups:
        for m in g.members:
            if m in grouped:
                duplicated.append(m)
            grouped[m] = g.fused_node
    unfused, removed = [], []
    for name, _ in operator_nodes(unfused_graph):
        if name in grouped:
            continue
        (unfused if name in fused_names else removed).append(name)
    return Coverage(grouped, tuple(unfused), tuple(removed), tuple(duplicated))


def summary_ms(values_ms) -> Stats | None:
    """The one statistics record (`mxprof.timing.stats.summarize`) of per-iteration times given
    in ms; None when there are none (a group whose primitives the log did not show)."""
    import numpy as np  # here, so `import mxprof` stays light

    a = np.asarray(values_ms, dtype=float)
    return summarize(a * 1e6) if a.size else None


def pooled_ms(series_per_process) -> Stats | None:
    """The one statistics record of per-iteration ms series, one per process
    (`mxprof.timing.pooled.pooled_stats`); None when every series is empty."""
    import numpy as np

    return pooled_stats([np.asarray(v, dtype=float) * 1e6 for v in series_per_process])


def median_ms(s: Stats | None) -> float:
    return s.median / 1e6 if s is not None else float("nan")


def gain_percent(before_ms: float, after_ms: float) -> float:
    return (before_ms - after_ms) / before_ms * 100.0 if before_ms > 0 else float("nan")


@dataclass(frozen=True)
class GroupTiming:
    group: FusedGroup
    unfused: Stats | None  # sum of the members' primitives per iteration, unfused graph
    fused: Stats | None  # the fused node's primitives per iteration, fused graph

    @property
    def unfused_ms(self) -> float:
        return median_ms(self.unfused)

    @property
    def fused_ms(self) -> float:
        return median_ms(self.fused)

    @property
    def gain_ms(self) -> float:
        return self.unfused_ms - self.fused_ms

    def to_dict(self) -> dict:
        """The group with its medians in ms and both statistics records (`Stats.to_dict("ms")`);
        whether the gain is real is the `gain_ratio` of `mxprof.jobs.fusion.ratios`."""
        return {**self.group.to_dict(), "unfused_ms": self.unfused_ms, "fused_ms": self.fused_ms,
                "gain_ms": self.gain_ms, "gain_percent": gain_percent(self.unfused_ms,
                                                                       self.fused_ms),
                "unfused_spread": self.unfused.to_dict("ms") if self.unfused else None,
                "fused_spread": self.fused.to_dict("ms") if self.fused else None}


def _per_iteration_sum(series: dict[str, list[float]], names) -> list[float]:
    rows = [series[n] for n in names if n in series]
    return [sum(col) for col in zip(*rows)] if rows else []


def group_table(groups, unfused_series, fused_series) -> tuple[GroupTiming, ...]:
    """Per group, per-iteration times joined through the membership map.

    `unfused_series` is keyed by original layer, `fused_series` by fused node; each value holds
    one time per measured iteration (see `fusion_trace.node_ms_per_iteration`). Either may be
    one such dict or a list of them, one per trace process: the processes are then pooled.
    """
    unfused_runs, fused_runs = as_runs(unfused_series), as_runs(fused_series)
    return tuple(
        GroupTiming(g, pooled_ms([_per_iteration_sum(s, g.members) for s in unfused_runs]),
                    pooled_ms([s.get(g.fused_node, []) for s in fused_runs]))
        for g in groups
    )


def gain_by_pattern(timings) -> list[dict]:
    """Group primitive times summed per pattern, largest gain first."""
    rows: dict[str, dict] = {}
    for t in timings:
        row = rows.setdefault(t.group.pattern, {"pattern": t.group.pattern, "groups": 0,
                                                "unfused_ms": 0.0, "fused_ms": 0.0})
        row["groups"] += 1
        row["unfused_ms"] += t.unfused_ms
        row["fused_ms"] += t.fused_ms
    for row in rows.values():
        row["gain_ms"] = row["unfused_ms"] - row["fused_ms"]
        row["gain_percent"] = gain_percent(row["unfused_ms"], row["fused_ms"])
    return sorted(rows.values(), key=lambda r: -r["gain_ms"])


@dataclass(frozen=True)
class PatternEffect:
    """Latency with one fusion switch off, against the fully fused graph."""

    switch: str
    pattern: str
    latency: Stats
    patterns: dict[str, int]  # fusion patterns left in the graph with the switch off
    cost_ms: float  # latency(switch off) - latency(all on, paired run): what the pattern buys

    def to_dict(self) -> dict:
        return {"switch": self.switch, "pattern": self.pattern,
                "latency": self.latency.to_dict("ms"), "patterns": dict(self.patterns),
                "cost_ms": self.cost_ms}


def pattern_counts(groups) -> dict[str, int]:
    """How many fused nodes of each pattern a graph holds ("conv+bn+relu": 9, ...)."""
    counts: dict[str, int] = {}
    for g in groups:
        counts[g.pattern] = counts.get(g.pattern, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def pattern_attribution(fused_latency: dict[str, Stats],
                        off: dict[str, tuple[Stats, dict[str, int]]]
                        ) -> tuple[PatternEffect, ...]:
    """`off` maps a switch to (latency with it set, patterns left); `fused_latency` maps it to
    the fully fused latency measured next to it. One effect per switch."""
    return tuple(
        PatternEffect(switch, PATTERN_SWITCHES.get(switch, switch), lat, left,
                      median_ms(lat) - median_ms(fused_latency[switch]))
        for switch, (lat, left) in off.items()
    )
