"""Means of repeated runs and whether two sets of them differ by more than their noise."""

from __future__ import annotations

import itertools
import statistics


def means(runs: list[dict], keys: tuple[str, ...]) -> dict[str, float]:
    return {f"mean_{k}": round(statistics.fmean(r[k] for r in runs), 4) for k in keys}


def permutation_p(ours: list[float], peer: list[float]) -> float:
    """Two-sided exact permutation test of the difference of the means: the share of all ways
    to split the pooled runs into two groups of these sizes whose difference of means is at
    least as large as the observed one."""
    pooled, n = ours + peer, len(ours)
    observed = abs(statistics.fmean(ours) - statistics.fmean(peer))
    splits = list(itertools.combinations(range(len(pooled)), n))
    extreme = 0
    for chosen in splits:
        first = [pooled[i] for i in chosen]
        second = [pooled[i] for i in range(len(pooled)) if i not in chosen]
        extreme += abs(statistics.fmean(first) - statistics.fmean(second)) >= observed - 1e-12
    return round(extreme / len(splits), 4)


def against(ours: list[dict], peer: list[dict], metrics: tuple[str, ...]) -> dict:
    """The difference of the means (ours − peer) of each metric with its permutation p-value,
    and the peer's mean seconds over ours."""
    result = {
        "speedup_over_peer": round(
            statistics.fmean(p["seconds"] for p in peer) / statistics.fmean(o["seconds"] for o in ours), 2
        )
    }
    for metric in metrics:
        a, b = [r[metric] for r in ours], [r[metric] for r in peer]
        result[f"{metric}_difference"] = round(statistics.fmean(a) - statistics.fmean(b), 4)
        result[f"{metric}_p"] = permutation_p(a, b)
    return result
