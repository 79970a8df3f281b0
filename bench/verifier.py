"""Verifier benchmark: label agreement per data file, the external graders' set, and RL-shaped
throughput, each side by side with math-verify in one run.

Run:  python bench/verifier.py [--data /work/shared/data] [--disagreements 40] [--only files external throughput]

math-verify (0.9.0) is always called as ``verify(parse("\\boxed{" + gold + "}"), parse(response))``.

- files: every file of ``--data`` on its own (labels encode each source's policy; never pool them);
  ours in-process through ``verify_one`` (extract mode ``any``).
- external: ``external/pairs.jsonl`` sent to ``/score`` of a ``hero-reward serve`` process (mode ``verifier``, the
  default extraction and policy), per source and overall, clean (``disputed`` null) and all, with
  the verbatim (``wrapped: false``) responses apart: accuracy, precision, recall, false accepts.
- throughput: the 800 Qwen responses as 100 groups of 8 in ONE ``/score`` request in mode
  ``verifier`` (the served process: its own verifier pool, cold verdict cache each round) versus
  math-verify in one process and math-verify in a process pool with as many workers as the server's
  verifier pool, alternated over rounds; medians and ratios.
  The same fresh pool directly (no HTTP) is kept as a fourth line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import multiprocessing
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hero_service.verifier import VerifierPolicy, VerifierPool, VerifyRequest, verify_one  # noqa: E402
from tests.ports import free_port  # noqa: E402

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

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    def row(self) -> str:
        return (f"{self.agree:>4}/{self.n:<4} {self.agree / self.n:6.1%}  P {self.precision:6.3f}  "
                f"R {self.recall:6.3f}  {self.n / self.seconds:7.0f}/s")

    def short(self) -> str:
        if not self.n:
            return f"{'-':>29}"
        return (f"{self.agree / self.n:5.3f} P {self.precision:5.3f} R {self.recall:5.3f} FA {self.fp:<3}")


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


# --- the real server, over HTTP ---------------------------------------------------------------------

@asynccontextmanager
async def served_app() -> AsyncIterator[httpx.AsyncClient]:
    """``hero-reward serve`` as its own process (default settings: embedded RM, the server's verifier pool),
    and a client once it is ready: the path a trainer calls, sockets and JSON included."""
    port = free_port()
    command = [sys.executable, "-m", "hero_service", "serve", "--port", str(port), "--log-level", "warning"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=600) as client:
            deadline = time.monotonic() + 600
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get("/ready")).status_code == 200:
                        break
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("hero-reward serve did not become ready")
                await asyncio.sleep(0.2)
            yield client
    finally:
        proc.terminate()
        proc.wait(timeout=60)


async def score_http(client: httpx.AsyncClient, groups: list[dict[str, Any]],
                     verifier: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """One /score request in mode verifier; the reply's groups."""
    params: dict[str, Any] = {"mode": "verifier", "session": "bench"}
    if verifier is not None:
        params["verifier"] = verifier
    reply = await client.post("/score", json={"groups": groups, "params": params})
    reply.raise_for_status()
    out: list[dict[str, Any]] = reply.json()["groups"]
    return out


# --- the external graders' set ----------------------------------------------------------------------

def load_external(data: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (data / "external" / "pairs.jsonl").read_text().splitlines()]


async def external_verdicts(client: httpx.AsyncClient, rows: list[dict[str, Any]]) -> tuple[list[int], float]:
    """Our 0/1 per row through /score (each pair a group of one), and the seconds it took."""
    start = time.perf_counter()
    groups = [{"reference": r["gold"], "responses": [r["response"]]} for r in rows]
    out: list[int] = []
    for i in range(0, len(groups), 256):
        out.extend(g["verifier"][0] for g in await score_http(client, groups[i : i + 256]))
    return out, time.perf_counter() - start


def report_external(rows: list[dict[str, Any]], ours_out: list[int], mv_out: list[int], listing: int) -> None:
    def tally(select: Callable[[dict[str, Any]], bool]) -> tuple[Score, Score]:
        a, b = Score(), Score()
        for row, o, m in zip(rows, ours_out, mv_out, strict=True):
            if select(row):
                a.add(row["gold"], row["response"], row["label"], o)
                b.add(row["gold"], row["response"], row["label"], m)
        return a, b

    print("\n== external/pairs.jsonl through /score (mode verifier, default extraction) vs math-verify ==")
    print(f"{'subset':58} {'n':>4}  {'hero: acc / precision / recall / false accepts':46} math-verify")
    by_source: dict[str, int] = defaultdict(int)
    for row in rows:
        by_source[row["source"].split("@")[0]] += 1
    for source in sorted(by_source, key=lambda name: -by_source[name]):
        def clean_from(row: dict[str, Any], name: str = source) -> bool:
            return row["disputed"] is None and bool(row["source"].split("@")[0] == name)

        a, b = tally(clean_from)
        print(f"  clean  {source:50} {a.n:>4}  {a.short():46} {b.short()}")
    for name, select in (
        ("CLEAN (disputed null)", lambda r: r["disputed"] is None),
        ("clean verbatim (wrapped false)", lambda r: r["disputed"] is None and not r["wrapped"]),
        ("clean wrapped", lambda r: r["disputed"] is None and r["wrapped"]),
        ("ALL", lambda r: True),
        ("all verbatim (wrapped false)", lambda r: not r["wrapped"]),
    ):
        a, b = tally(select)
        print(f"  {name:56} {a.n:>4}  {a.short():46} {b.short()}")
    a, b = tally(lambda r: r["disputed"] is None)
    mv_missed = {(g, r) for g, r, _, _ in b.misses}
    print(f"\n  our disagreements on clean pairs ({len(a.misses)}; math-verify {len(b.misses)}):")
    for gold, response, label, predicted in a.misses[:listing]:
        also = "mv also" if (gold, response) in mv_missed else "mv right"
        print(f"    label {label} ours {predicted} [{also}] gold={gold[:50]!r} resp=...{response[-80:]!r}")


# --- throughput -------------------------------------------------------------------------------------

def _mv_init() -> None:
    logging.getLogger("math_verify").setLevel(logging.CRITICAL)
    math_verify()("1", "\\boxed{1}")  # load the grammar before the clock starts


def _mv_chunk(chunk: list[tuple[str, str]]) -> list[bool]:
    _clear_math_verify_caches()
    judge = math_verify()
    return [judge(gold, response) for gold, response in chunk]


def mv_pool_rate(pool: ProcessPoolExecutor, triples: list[Triple]) -> float:
    """math-verify in a process pool, one group of 8 per task (as an RL reward loop would submit)."""
    chunks = [[(g, r) for g, r, _ in triples[i : i + 8]] for i in range(0, len(triples), 8)]
    start = time.perf_counter()
    list(pool.map(_mv_chunk, chunks))
    return len(triples) / (time.perf_counter() - start)


async def http_rate(client: httpx.AsyncClient, triples: list[Triple], round_no: int) -> tuple[float, int]:
    """/score, mode verifier, all 100 groups of 8 in one request. A policy field no answer here
    reaches (the size cap) differs per round, so every round starts with a cold verdict cache."""
    groups = [{"reference": triples[i][0], "responses": [r for _, r, _ in triples[i : i + 8]]}
              for i in range(0, len(triples), 8)]
    start = time.perf_counter()
    out = await score_http(client, groups, {"max_answer_chars": 1000 + round_no})
    elapsed = time.perf_counter() - start
    verdicts = [v for g in out for v in g["verifier"]]
    return len(triples) / elapsed, sum(int(v == label) for v, (_, _, label) in zip(verdicts, triples, strict=True))


async def run_served(args: argparse.Namespace, files: dict[str, list[Triple]], mv: Callable[[str, str], bool]) -> None:
    async with served_app() as client:
        info = (await client.get("/info")).json()
        workers = int(info["verifier"]["workers"])
        if "external" in args.only:
            rows = load_external(args.data)
            ours_out, seconds = await external_verdicts(client, rows)
            mv_start = time.perf_counter()
            mv_out = [int(mv(r["gold"], r["response"])) for r in rows]
            mv_seconds = time.perf_counter() - mv_start
            report_external(rows, ours_out, mv_out, args.disagreements)
            print(f"  time: hero /score {seconds:.1f} s, math-verify {mv_seconds:.1f} s")
        if "throughput" not in args.only:
            return
        qwen = files["qwen25math_math_cot_100"]
        rates: dict[str, list[float]] = defaultdict(list)
        agree = 0
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_mv_init) as pool:
            list(pool.map(_mv_chunk, [[("1", "\\boxed{1}")]] * workers * 2))  # workers up and warm
            await http_rate(client, qwen[:8], -1)  # first-request costs (routes, pydantic) off the clock
            # The machine may be shared: alternate the engines and report medians over the rounds.
            for round_no in range(args.rounds):
                rate, agree = await http_rate(client, qwen, round_no)
                rates["http"].append(rate)
                _clear_math_verify_caches()
                rates["mv"].append(len(qwen) / score(qwen, mv).seconds)
                rates["mv_pool"].append(mv_pool_rate(pool, qwen))
                rates["pool"].append((await pool_throughput(qwen, workers))[0])
    med = {name: statistics.median(values) for name, values in rates.items()}
    print(f"\n== throughput: 800 Qwen responses, 100 groups of 8, median of {args.rounds} rounds "
          f"(server verifier pool: {workers} workers) ==")
    print(f"  /score mode verifier, one request (agree {agree}/800): {med['http']:8,.0f} pairs/s")
    print(f"  math-verify, one process:                      {med['mv']:8,.0f} pairs/s   "
          f"ratio {med['http'] / med['mv']:.2f}x")
    print(f"  math-verify, process pool of {workers}:              {med['mv_pool']:8,.0f} pairs/s   "
          f"ratio {med['http'] / med['mv_pool']:.2f}x")
    print(f"  VerifierPool direct ({workers} workers, no HTTP):      {med['pool']:8,.0f} pairs/s")
    for name, values in rates.items():
        print(f"    rounds {name:8}", ", ".join(f"{v:,.0f}" for v in values))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--disagreements", type=int, default=40, help="how many to list per file")
    parser.add_argument("--rounds", type=int, default=5, help="throughput rounds (median reported)")
    parser.add_argument("--only", nargs="+", choices=["files", "external", "throughput"],
                        default=["files", "external", "throughput"])
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("math_verify").setLevel(logging.CRITICAL)
    files = load(args.data)
    policy = VerifierPolicy()
    mv = math_verify()
    mv("1", "\\boxed{1}")  # load the ANTLR grammar outside the timings
    ours(policy)("1", "\\boxed{1}")
    reports: list[tuple[str, Score, Score]] = []
    if "files" in args.only:
        print(f"{'file':42} {'engine':12} {'agree':>9} {'':6}  {'precision':9} {'recall':8} {'pairs/s':>8}")
        for name, triples in files.items():
            our_score, mv_score = score(triples, ours(policy)), score(triples, mv)
            print(f"{name:42} {'hero':12} {our_score.row()}")
            print(f"{'':42} {'math-verify':12} {mv_score.row()}")
            reports.append((name, our_score, mv_score))
    if "external" in args.only or "throughput" in args.only:
        asyncio.run(run_served(args, files, mv))
    for name, our_score, mv_score in reports:
        print(f"\n== {name}: our disagreements with the label ({len(our_score.misses)}; math-verify "
              f"{len(mv_score.misses)}) ==")
        mv_missed = {(g, r) for g, r, _, _ in mv_score.misses}
        for gold, response, label, predicted in our_score.misses[: args.disagreements]:
            also = "mv also" if (gold, response) in mv_missed else "mv right"
            print(f"  label {label} ours {predicted} [{also}] gold={gold[:60]!r} resp=...{response[-90:]!r}")


if __name__ == "__main__":
    main()
