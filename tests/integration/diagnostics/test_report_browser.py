"""The report page in a real browser: headless Chromium loads it, every figure decodes, no console error."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from hero_client.schemas import ResolvedParams
from hero_service.diagnostics.records import ScoredRecord, write_records
from hero_service.diagnostics.report import write_report
from hero_service.hero import HeroParams, combine

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PARAMS = ResolvedParams(mode="hero", preset="paper-appendix", alpha=0.05, beta=0.05, eps=1e-6, singleton_z=0.0,
                        w_min=0.4, w_max=3.0, k=6.0, weighting=True, dense="both", blend_lambda=0.5,
                        sigma_ref=None, session="default", extract="boxed_or_last")
# Appended to a copy of the page only: after load, count the images that really decoded.
PROBE = ("<script>window.addEventListener('load', () => { const all = [...document.images]; "
         "document.body.dataset.images = all.filter(i => i.complete && i.naturalWidth > 0).length "
         "+ '/' + all.length; });</script>")


def scored_file(path: Path) -> Path:
    records = [ScoredRecord(line=9, group="line-9", index=None, batch=0, status="error", error="not JSON")]
    for line, (verifier, scores) in enumerate([([1, 0, 1, 0], [2.0, -1.0, 0.5, 1.0]), ([1, 1], [0.1, 0.3]),
                                               ([0, 0, 1], [0.0, 3.0, -2.0])], start=1):
        reward = combine(verifier, scores, HeroParams(), 1.0)
        records += [ScoredRecord(line=line, group=f"g{line}", index=i, batch=0, status="ok", prompt="p <b>",
                                 reference="<42>", response="... \\boxed{x} </pre>", verifier=v,
                                 verifier_status="ok", rm_score=s, rm_status="ok", reward=reward.rewards[i],
                                 weight=reward.weight, sigma=reward.sigma, sigma_ref=1.0, params=PARAMS)
                    for i, (v, s) in enumerate(zip(verifier, scores, strict=True))]
    write_records(path, records, mode="w")
    return path


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)")
def test_report_loads_in_headless_chromium(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    write_report(scored_file(tmp_path / "scored.jsonl"), page)
    text = page.read_text(encoding="utf-8")
    assert "&lt;42&gt;" in text and "<42>" not in text  # file text is escaped, never markup
    probed = tmp_path / "probed.html"
    probed.write_text(text.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    result = subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
         "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000", "--dump-dom", probed.as_uri()],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "<title>hero-reward report: scored.jsonl</title>" in result.stdout
    assert 'data-images="5/5"' in result.stdout
    assert "CONSOLE" not in result.stderr  # no script error, no failed load reported by the page
