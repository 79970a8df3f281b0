"""``hero-reward report``: one self-contained HTML page (figures embedded as PNG) about a scored file.

``summarize`` does the numbers (via ``stats``); ``render`` draws and writes; nothing here scores.
"""

from __future__ import annotations

import base64
import html
import io
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from matplotlib.figure import Figure

from hero_service.diagnostics.records import ScoredFileError, ScoredRecord, read_records
from hero_service.diagnostics.stats import (
    Agreement,
    AurocSummary,
    GridRow,
    ScoredGroup,
    StratumCounts,
    auroc_summary,
    disagreements,
    label_agreement,
    param_grid,
    scored_groups,
    status_counts,
    stratum_counts,
)
from hero_service.hero import variance_weight

CORRECT, WRONG = "#2a9d8f", "#e76f51"


@dataclass(frozen=True, slots=True)
class ReportData:
    """Everything the page shows, computed from the records."""

    title: str
    records: int
    groups: list[ScoredGroup]
    statuses: dict[str, int]
    strata: StratumCounts
    auroc: AurocSummary
    agreement: Agreement | None
    grid: list[GridRow]
    top_wrong: list[ScoredRecord]
    bottom_right: list[ScoredRecord]


def summarize(records: Sequence[ScoredRecord], title: str, top: int = 10) -> ReportData:
    groups = scored_groups(records)
    top_wrong, bottom_right = disagreements(groups, top)
    return ReportData(
        title=title, records=len(records), groups=groups, statuses=status_counts(records),
        strata=stratum_counts(groups), auroc=auroc_summary(groups), agreement=label_agreement(groups),
        grid=param_grid(groups), top_wrong=top_wrong, bottom_right=bottom_right,
    )


def _png(figure: Figure) -> str:
    # Figures are made without pyplot: no global figure registry, no display backend to choose.
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="" src="data:image/png;base64,{data}">'


def _fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _table(header: Sequence[str], rows: Sequence[Sequence[object]], cls: str = "") -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _status_figure(statuses: dict[str, int]) -> str:
    names = list(statuses)
    figure = Figure(figsize=(6, 0.5 + 0.35 * len(names)))
    ax = figure.subplots()
    ax.barh(names, [statuses[n] for n in names], color="#457b9d")
    ax.invert_yaxis()
    ax.set_xlabel("responses (line errors: input lines)")
    return _png(figure)


def _rm_figure(groups: Sequence[ScoredGroup]) -> str:
    correct = [s for g in groups for v, s in zip(g.verifier, g.scores, strict=True) if v and s is not None]
    wrong = [s for g in groups for v, s in zip(g.verifier, g.scores, strict=True) if not v and s is not None]
    figure = Figure(figsize=(7, 3.2))
    ax = figure.subplots()
    everything = correct + wrong
    if everything:
        bins = _bins(everything, 40)
        ax.hist(correct, bins=bins, alpha=0.6, color=CORRECT, label=f"verified correct ({len(correct)})")
        ax.hist(wrong, bins=bins, alpha=0.6, color=WRONG, label=f"verified wrong ({len(wrong)})")
        ax.legend()
    ax.set_xlabel("raw RM score")
    ax.set_ylabel("responses")
    return _png(figure)


def _bins(values: Sequence[float], n: int) -> list[float]:
    low, high = min(values), max(values)
    if high <= low:
        low, high = low - 0.5, high + 0.5
    return [low + (high - low) * i / n for i in range(n + 1)]


def _auroc_figure(summary: AurocSummary) -> str:
    figure = Figure(figsize=(7, 3.2))
    ax = figure.subplots()
    ax.hist(summary.values, bins=[i / 20 for i in range(21)], color="#457b9d")
    if summary.mean is not None and summary.median is not None:
        ax.axvline(summary.mean, color="black", linestyle="--", label=f"mean {summary.mean:.3f}")
        ax.axvline(summary.median, color="black", linestyle=":", label=f"median {summary.median:.3f}")
        ax.legend(loc="upper left")
    ax.set_xlim(0, 1)
    ax.set_xlabel("per-group AUROC of the RM against the verifier")
    ax.set_ylabel("groups")
    return _png(figure)


def _reward_figure(groups: Sequence[ScoredGroup]) -> str:
    figure = Figure(figsize=(10, 3.2))
    axes = figure.subplots(1, 2)
    for ax, outcome, color, name in ((axes[0], 0, WRONG, "verified wrong"), (axes[1], 1, CORRECT, "verified correct")):
        rewards = [r for g in groups for v, r in zip(g.verifier, g.rewards, strict=True) if v == outcome]
        if rewards:
            ax.hist(rewards, bins=_bins(rewards, 40), color=color)
        ax.set_title(f"{name} ({len(rewards)})")
        ax.set_xlabel("final reward")
    axes[0].set_ylabel("responses")
    return _png(figure)


def _weight_figure(groups: Sequence[ScoredGroup]) -> str:
    figure = Figure(figsize=(7, 3.6))
    ax = figure.subplots()
    points = [(sigma, weight) for g in groups
              if (sigma := g.first.sigma) is not None and (weight := g.first.weight) is not None]
    refs = [g.first.sigma_ref for g in groups if g.first.sigma_ref is not None]
    params = groups[0].first.params if groups else None
    if points:
        ax.scatter([p[0] for p in points], [p[1] for p in points], s=12, color="#457b9d", label="groups")
    if refs and params is not None:
        # The running sigma_ref moves during a run: draw the curve at its median, and mark its range.
        ref = statistics.median(refs)
        high = max([p[0] for p in points] + [2 * ref, ref + 1e-9])
        xs = [high * i / 200 for i in range(201)]
        ax.plot(xs, [variance_weight(x, ref, params.w_min, params.w_max, params.k) for x in xs], color="gray",
                label="w(sigma_u) at that sigma_ref")
        ax.axvline(ref, color="black", linestyle="--", label=f"sigma_ref {ref:.3f} (median)")
        if max(refs) > min(refs):
            ax.axvspan(min(refs), max(refs), color="black", alpha=0.08, label="sigma_ref range")
        ax.legend(loc="lower right")
    ax.set_xlabel("sigma_u (std of the group's raw RM scores)")
    ax.set_ylabel("weight w")
    return _png(figure)


def _excerpt(text: str | None, chars: int = 400) -> str:
    if not text:
        return ""
    return text if len(text) <= chars else "..." + text[-chars:]


def _disagreement_table(records: Sequence[ScoredRecord]) -> str:
    if not records:
        return "<p>None.</p>"
    rows = []
    for r in records:
        cells = [str(r.line), f"{r.group} #{r.index}", _fmt(r.rm_score), r.reference or "", r.answer or "(none)",
                 r.verifier_status or "", "" if r.label is None else str(r.label)]
        tds = "".join(f"<td>{html.escape(c)}</td>" for c in cells)
        tail = html.escape(_excerpt(r.response))
        rows.append(f"<tr>{tds}<td><details><summary>end of response</summary><pre>{tail}</pre></details>"
                    "</td></tr>")
    names = ("line", "group #response", "RM score", "reference", "extracted answer", "verifier status", "label", "")
    head = "".join(f"<th>{h}</th>" for h in names)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; padding: 0 1.5em; max-width: 1100px; color: #222; }
.row { display: flex; gap: 2.5em; flex-wrap: wrap; align-items: flex-start; }
h1 { font-size: 1.6em; } h2 { margin-top: 1.8em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } td { max-width: 22em; overflow-wrap: anywhere; }
pre { white-space: pre-wrap; max-width: 40em; font-size: 0.85em; }
.key { display: flex; gap: 2em; flex-wrap: wrap; } .key div { background: #f6f8fa; padding: 0.6em 1em; }
.key b { display: block; font-size: 1.4em; } img { max-width: 100%; }
"""


def render_html(data: ReportData) -> str:
    """The page as one string: figures inlined, no external resources."""
    a, s = data.auroc, data.strata
    params = data.groups[0].first.params if data.groups else None
    used = (f"mode={params.mode}, alpha={params.alpha}, beta={params.beta}, w_min={params.w_min}, "
            f"w_max={params.w_max}, k={params.k}, weighting={params.weighting}, dense={params.dense}"
            if params else "n/a")
    key = "".join(f"<div><b>{html.escape(v)}</b>{html.escape(k)}</div>" for k, v in (
        ("groups scored", str(len(data.groups))), ("mean AUROC", _fmt(a.mean)), ("median AUROC", _fmt(a.median)),
        ("groups with both outcomes", _pct(a.share_mixed)),
    ))
    agreement = ""
    if data.agreement is not None:
        g = data.agreement
        agreement = ("<div><h3>Verifier against the labels in the file</h3>" + _table(
            ["", "label correct", "label wrong"],
            [["verifier correct", g.both_correct, g.verifier_only], ["verifier wrong", g.label_only, g.both_wrong]],
        ) + f"<p>Agreement {_pct(g.rate)} over {g.total} labelled responses.</p></div>")

    def grid_alpha(row: GridRow) -> str:
        scored = params is not None and (row.alpha, row.alpha, row.k) == (params.alpha, params.beta, params.k)
        return f"{row.alpha} (as scored)" if scored else str(row.alpha)

    grid_rows = [[grid_alpha(r), r.k, _fmt(r.mean_weight), _fmt(r.mean_correct), _fmt(r.mean_wrong),
                  _fmt(r.mean_change), _fmt(r.max_change)] for r in data.grid]
    sections = [
        f"<h1>{html.escape(data.title)}</h1>",
        f"<p>{data.records} records, {len(data.groups)} scored groups. Parameters used: {html.escape(used)}.</p>",
        f'<div class="key">{key}</div>',
        "<h2>Verifier status</h2>",
        f'<div class="row">{_table(["status", "count"], list(data.statuses.items()))}'
        f"{_status_figure(data.statuses)}{agreement}</div>",
        "<h2>Strata</h2>",
        '<div class="row">'
        + _table(["stratum", "responses"], [["verified correct", s.correct], ["verified wrong", s.wrong]])
        + _table(["groups", "count"], [["all correct", s.all_correct_groups], ["all wrong", s.all_wrong_groups],
                                       ["both outcomes", s.mixed_groups]])
        + "</div>",
        "<h2>RM scores: verified correct against wrong</h2>",
        _rm_figure(data.groups),
        "<h2>Per-group AUROC of the RM against the verifier</h2>",
        "<p>The chance that a verified-correct response of a group outscores a verified-wrong one of the same "
        "group (ties count half); defined only for groups with both outcomes. The HERO paper (App. B.1) reports "
        "mean 0.79, median 0.92, 56.8% of groups at 0.9 or more for AceMath-7B-RM.</p>",
        _table(["groups", "with both outcomes", "share", "mean", "median", ">= 0.9", ">= 0.7", "0.4 to 0.6"],
               [[a.groups, a.mixed, _pct(a.share_mixed), _fmt(a.mean), _fmt(a.median), _pct(a.share(0.9)),
                 _pct(a.share(0.7)), _pct(a.share(0.4, 0.6))]]),
        _auroc_figure(a),
        "<h2>Final rewards per stratum</h2>",
        _reward_figure(data.groups),
        "<h2>Weight against sigma_u</h2>",
        _weight_figure(data.groups),
        "<h2>Rewards under other alpha = beta and k</h2>",
        "<p>Each group recomputed at the sigma_ref it was scored with; changes are against the rewards as "
        "scored. Under a trainer that divides advantages by the group std, w and alpha cancel.</p>",
        _table(["alpha = beta", "k", "mean weight", "mean reward (correct)", "mean reward (wrong)",
                "mean |change|", "max |change|"], grid_rows),
        "<h2>Top disagreements</h2>",
        "<h3>Verified wrong, highest RM scores</h3>",
        "<p>Candidates for verifier false negatives (or RM false positives).</p>",
        _disagreement_table(data.top_wrong),
        "<h3>Verified correct, lowest RM scores</h3>",
        _disagreement_table(data.bottom_right),
    ]
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(data.title)}</title>'
            f"<style>{_STYLE}</style></head><body>{''.join(sections)}</body></html>\n")


def write_report(scored: Path, output: Path, top: int = 10) -> ReportData:
    """Read ``scored``, write the page to ``output``; returns the numbers it shows."""
    records = read_records(scored)
    if not records:
        raise ScoredFileError("no records: score a rollout file into it first (hero-reward score ROLLOUTS -o "
                              f"{scored})")
    data = summarize(records, f"hero-reward report: {scored.name}", top)
    output.write_text(render_html(data), encoding="utf-8")
    return data
