"""What MKL-DNN fusion did to a graph: pure functions over graph JSON and per-node times.

- `fusion_groups(fused_graph)`: every fused node (`_sg_mkldnn_conv`, `_sg_mkldnn_fully_connected`,
  ...) with the original layers inside its subgraph and the pattern they form ("conv+bn+sum+relu").
- `layer_coverage(groups, unfused_graph, fused_graph)`: each original layer is in exactly one
  group, stays a node of its own, or was removed by the partitioner.
- `group_table(groups, unfused_ms, fused_ms)`: per group, primitive time before and after.
- `latency_summary(samples_ns)` and `gain(...)`: totals with their spread.
- `pattern_attribution(fused, off)`: what each `MXNET_DISABLE_MKLDNN_FUSE_*` switch costs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

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


@dataclass(frozen=True)
class Spread:
    """Median with the interquartile range and the sample count, all in ms."""

    median: float
    q1: float
    q3: float
    n: int

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Spread:
        return cls(**d)


def spread(values_ms) -> Spread:
    import numpy as np  # here, so `import mxprof` stays light

    a = np.asarray(values_ms, dtype=float)
    if a.size == 0:
        return Spread(float("nan"), float("nan"), float("nan"), 0)
    q1, med, q3 = np.percentile(a, [25, 50, 75])
    return Spread(float(med), float(q1), float(q3), int(a.size))


def latency_summary(samples_ns) -> Spread:
    """Median and quartiles of per-call samples, from the shared statistics (`mxprof.timing.stats`)."""
    from mxprof.timing.stats import summarize

    if len(samples_ns) == 0:
        return spread([])
    s = summarize(samples_ns)
    return Spread(s.median / 1e6, s.q1 / 1e6, s.q3 / 1e6, s.n)


def median_interval(samples_ns) -> Spread:
    """The median with its 95% confidence interval in place of the quartiles."""
    from mxprof.timing.stats import summarize

    s = summarize(samples_ns)
    return Spread(s.median / 1e6, s.ci95_low / 1e6, s.ci95_high / 1e6, s.n)


def worker_noise_ms(rounds_by_config) -> float | None:
    """Largest spread of per-worker medians of one configuration across rounds, in ms."""
    spreads = []
    for rounds in rounds_by_config:
        medians = [latency_summary(r).median for r in rounds if len(r)]
        if len(medians) > 1:
            spreads.append(max(medians) - min(medians))
    return max(spreads) if spreads else None


def gain_percent(before_ms: float, after_ms: float) -> float:
    return (before_ms - after_ms) / before_ms * 100.0 if before_ms > 0 else float("nan")


def separated(a: Spread, b: Spread) -> bool:
    return a.n > 0 and b.n > 0 and (a.q1 > b.q3 or b.q1 > a.q3)


def gain_range_percent(before: Spread, after: Spread) -> tuple[float, float]:
    """Gain from the pessimistic to the optimistic ends of the two intervals (q1..q3)."""
    if before.median <= 0:
        return (float("nan"), float("nan"))
    return ((before.q1 - after.q3) / before.median * 100.0,
            (before.q3 - after.q1) / before.median * 100.0)


@dataclass(frozen=True)
class GroupTiming:
    group: FusedGroup
    unfused: Spread  # sum of the members' primitives per iteration, unfused graph
    fused: Spread  # the fused node's primitives per iteration, fused graph

    @property
    def gain_ms(self) -> float:
        return self.unfused.median - self.fused.median

    @property
    def gain_percent(self) -> float:
        return gain_percent(self.unfused.median, self.fused.median)

    @property
    def clear(self) -> bool:
        """True when the interquartile ranges do not overlap: the gain or loss is not noise."""
        return separated(self.unfused, self.fused)

    def to_dict(self) -> dict:
        return {**self.group.to_dict(), "unfused_ms": self.unfused.median,
                "fused_ms": self.fused.median, "gain_ms": self.gain_ms,
                "gain_percent": self.gain_percent, "clear": self.clear, "unfused_spread": self.unfused.to_dict(),
                "fused_spread": self.fused.to_dict()}


def _per_iteration_sum(series: dict[str, list[float]], names) -> list[float]:
    rows = [series[n] for n in names if n in series]
    return [sum(col) for col in zip(*rows)] if rows else []


def group_table(groups, unfused_series: dict[str, list[float]],
                fused_series: dict[str, list[float]]) -> tuple[GroupTiming, ...]:
    """Per group, per-iteration times joined through the membership map.

    `unfused_series` is keyed by original layer, `fused_series` by fused node; each value holds
    one time per measured iteration (see `fusion_trace.node_ms_per_iteration`).
    """
    return tuple(
        GroupTiming(g, spread(_per_iteration_sum(unfused_series, g.members)),
                    spread(fused_series.get(g.fused_node, [])))
        for g in groups
    )


def gain_by_pattern(timings) -> list[dict]:
    """Group primitive times summed per pattern, largest gain first."""
    rows: dict[str, dict] = {}
    for t in timings:
        row = rows.setdefault(t.group.pattern, {"pattern": t.group.pattern, "groups": 0,
                                                "unfused_ms": 0.0, "fused_ms": 0.0})
        row["groups"] += 1
        row["unfused_ms"] += t.unfused.median
        row["fused_ms"] += t.fused.median
    for row in rows.values():
        row["gain_ms"] = row["unfused_ms"] - row["fused_ms"]
        row["gain_percent"] = gain_percent(row["unfused_ms"], row["fused_ms"])
    return sorted(rows.values(), key=lambda r: -r["gain_ms"])


@dataclass(frozen=True)
class PatternEffect:
    """Latency with one fusion switch off, against the fully fused graph."""

    switch: str
    pattern: str
    latency: Spread
    patterns: dict[str, int]  # fusion patterns left in the graph with the switch off
    cost_ms: float  # latency(switch off) - latency(all on, paired run): what the pattern buys

    def to_dict(self) -> dict:
        return {**asdict(self), "latency": self.latency.to_dict()}


def pattern_counts(groups) -> dict[str, int]:
    """How many fused nodes of each pattern a graph holds ("conv+bn+relu": 9, ...)."""
    counts: dict[str, int] = {}
    for g in groups:
        counts[g.pattern] = counts.get(g.pattern, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def pattern_attribution(fused_latency: dict[str, Spread],
                        off: dict[str, tuple[Spread, dict[str, int]]]
                        ) -> tuple[PatternEffect, ...]:
    """`off` maps a switch to (latency with it set, patterns left); `fused_latency` maps it to
    the fully fused latency measured next to it. One effect per switch."""
    return tuple(
        PatternEffect(switch, PATTERN_SWITCHES.get(switch, switch), lat, left,
                      lat.median - fused_latency[switch].median)
        for switch, (lat, left) in off.items()
    )
