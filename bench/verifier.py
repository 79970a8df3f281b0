"""Verifier benchmark: label agreement per data file, and RL-shaped throughput, versus math-verify.

Run:  python bench/verifier.py [--data /work/shared/data] [--disagreements 40]

Accuracy: every file is scored on its own (labels encode each source's policy; never pool them).
Our verifier runs in-process through ``verify_one``; math-verify is called as
``verify(parse("\\boxed{" + gold + "}"), parse(response))``.
Throughput: the 800 Qwen responses as 100 groups of 8, all groups in flight at once, through a
fresh ``VerifierPool`` (2 workers, cold verdict cache) versus math-verify in one process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from hero_service.verifier import VerifierPolicy, VerifierPool, VerifyRequest, verify_one

Triple = tuple[str, str, int]  # (gold, response, label)


@dataclass
class Score:
    agree: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    n: int = 0
    seconds: float = 0.0
    misses: list[tuple[str, str, int, int]] = field(default_factory=list)

    def add(self, gold: str, response: str, label: int, predicted: int) -> None:
        self.n += 1
        self.agree += int(predicted == label)
        self.tp += int(predicted == 1 and label == 1)
        self.fp += int(predicted == 1 and label == 0)
        self.fn += int(predicted == 0 and label == 1)
        if predicted != label:
            self.misses.append((gold, response, label, predicted))

    def row(self) -> str:
        precision = self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0
        recall = self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0
        return (f"{self.agree:>4}/{self.n:<4} {self.agree / self.n:6.1%}  P {precision:6.3f}  R {recall:6.3f}"
                f"  {self.n / self.seconds:7.0f}/s")


def load(data: Path) -> dict[str, list[Triple]]:
    files: dict[str, list[Triple]] = {}
    rows = [json.loads(line) for line in (data / "qwen25math_math_cot_100.jsonl").read_text().splitlines()]
    files["qwen25math_math_cot_100"] = [
        (str(r["answer"]), r["code"][k], int(r["score"][k])) for r in rows for k in range(len(r["code"]))
    ]
    for path in sorted((data / "derived").glob("*.jsonl")):
        triples = []
        for line in path.read_text().splitlines():
            r = json.loads(line)
            triples.append((str(r["gold"]), _as_response(str(r["pred"])), int(r["label"])))
        files[path.stem] = triples
    return files


def _as_response(pred: str) -> str:
    """The derived files hold bare answers or short sentences; box a bare answer as a model would."""
    return pred if ("\\boxed" in pred or "$" in pred or "\\(" in pred or "\\[" in pred) else f"\\boxed{{{pred}}}"


def score(triples: Iterable[Triple], judge: Callable[[str, str], bool]) -> Score:
    result = Score()
    start = time.perf_counter()
    for gold, response, label in triples:
        result.add(gold, response, label, int(judge(gold, response)))
    result.seconds = time.perf_counter() - start
    return result


def ours(policy: VerifierPolicy) -> Callable[[str, str], bool]:
    def judge(gold: str, response: str) -> bool:
        return verify_one(VerifyRequest(gold, response, "any"), policy).correct
    return judge


def math_verify() -> Callable[[str, str], bool]:
    from math_verify import parse, verify

    def judge(gold: str, response: str) -> bool:
        return bool(verify(parse("\\boxed{" + gold + "}"), parse(response)))
    return judge


async def pool_throughput(triples: list[Triple], workers: int) -> tuple[float, int]:
    pool = VerifierPool(workers=workers, timeout_s=5.0, max_tasks=10_000, memory_mb=2048)
    await pool.start()
    try:
        groups = [triples[i : i + 8] for i in range(0, len(triples), 8)]
        start = time.perf_counter()
        results = await asyncio.gather(*(pool.verify([VerifyRequest(g, r) for g, r, _ in group])
                                         for group in groups))
        elapsed = time.perf_counter() - start
    finally:
        await pool.close()
    agree = sum(int(v.correct) == label for group, verdicts in zip(groups, results, strict=True)
                for (_, _, label), v in zip(group, verdicts, strict=True))
    return len(triples) / elapsed, agree


def _clear_math_verify_caches() -> None:
    """Cold answer caches for each math-verify round, as a fresh pool has for ours."""
    import math_verify.parser as mv_parser

    for name in ("parse_latex_cached", "parse_expr_cached", "extract_latex"):
        cached = getattr(mv_parser, name, None)
        if cached is not None and hasattr(cached, "cache_clear"):
            cached.cache_clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--disagreements", type=int, default=40, help="how many to list per file")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="throughput rounds (median reported)")
    args = parser.parse_args()
    logging.getLogger("math_verify").setLevel(logging.CRITICAL)
    files = load(args.data)
    policy = VerifierPolicy()
    mv = math_verify()
    mv("1", "\\boxed{1}")  # load the ANTLR grammar outside the timings
    ours(policy)("1", "\\boxed{1}")
    print(f"{'file':42} {'engine':12} {'agree':>9} {'':6}  {'precision':9} {'recall':8} {'pairs/s':>8}")
    reports: list[tuple[str, Score, Score]] = []
    for name, triples in files.items():
        our_score, mv_score = score(triples, ours(policy)), score(triples, mv)
        print(f"{name:42} {'hero':12} {our_score.row()}")
        print(f"{'':42} {'math-verify':12} {mv_score.row()}")
        reports.append((name, our_score, mv_score))
    qwen = files["qwen25math_math_cot_100"]
    # The machine may be shared: alternate the two engines and report medians over the rounds.
    ours_rates, mv_rates = [], []
    agree = 0
    for _ in range(args.rounds):
        rate, agree = asyncio.run(pool_throughput(qwen, args.workers))
        ours_rates.append(rate)
        _clear_math_verify_caches()
        mv_rates.append(len(qwen) / score(qwen, mv).seconds)
    rate, mv_rate = statistics.median(ours_rates), statistics.median(mv_rates)
    print(f"\nthroughput, 800 Qwen responses as 100 groups of 8 (median of {args.rounds}): "
          f"VerifierPool({args.workers} workers) {rate:,.0f} pairs/s (agree {agree}/800) vs math-verify one "
          f"process {mv_rate:,.0f} pairs/s = {rate / mv_rate:.1f}x")
    print("  rounds, ours:", ", ".join(f"{r:,.0f}" for r in ours_rates),
          "| math-verify:", ", ".join(f"{r:,.0f}" for r in mv_rates))
    for name, our_score, mv_score in reports:
        print(f"\n== {name}: our disagreements with the label ({len(our_score.misses)}; math-verify "
              f"{len(mv_score.misses)}) ==")
        mv_missed = {(g, r) for g, r, _, _ in mv_score.misses}
        for gold, response, label, predicted in our_score.misses[: args.disagreements]:
            also = "mv also" if (gold, response) in mv_missed else "mv right"
            print(f"  label {label} ours {predicted} [{also}] gold={gold[:60]!r} resp=...{response[-90:]!r}")


if __name__ == "__main__":
    main()
