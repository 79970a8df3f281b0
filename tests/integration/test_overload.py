"""Overload through the real app and the embedded RM: a request refused with 429 costs nothing."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Sequence
from typing import Any

from hero_service.app import create_app
from hero_service.reward_model.similarity import EncodedPair, SimilarityScorer
from hero_service.settings import Settings
from tests.integration.asgi import ready_client


def _queue_size(metrics: str) -> float:
    match = re.search(r"^hero_queue_size (\S+)$", metrics, re.M)
    assert match, metrics
    return float(match.group(1))


def _group(tag: str, n: int) -> dict[str, Any]:
    return {"reference": "7", "responses": [f"{tag} answer {k} is \\boxed{{7}}" for k in range(n)]}


async def test_a_request_refused_with_429_leaves_nothing_queued_and_nothing_scored() -> None:
    settings = Settings(verifier_workers=1, max_queue=16, max_wait_ms=0, max_batch_size=4)
    app = create_app(settings)  # the embedded RM, its batcher reporting to /metrics
    rm = app.state.hero.reward_model
    assert isinstance(rm, SimilarityScorer)
    gate, seen = threading.Event(), []
    async with ready_client(app) as client:
        forward = rm.forward

        def gated(batch: Sequence[EncodedPair]) -> list[float]:
            seen.extend(rm._tokenizer.decode(e.response, skip_special_tokens=True) for e in batch)
            gate.wait(timeout=30)
            return forward(batch)

        rm.forward = gated  # type: ignore[method-assign]
        running = asyncio.create_task(client.post("/score", json={"groups": [_group("running", 4)]}))
        for _ in range(600):  # its first batch is in the (held) forward pass
            if seen:
                break
            await asyncio.sleep(0.01)
        waiting = asyncio.create_task(client.post("/score", json={"groups": [_group("waiting", 4)]}))
        for _ in range(600):
            if _queue_size((await client.get("/metrics")).text) == 4:
                break
            await asyncio.sleep(0.01)
        assert _queue_size((await client.get("/metrics")).text) == 4
        # 4 queued + 24 > 16. Per group, the first group of 8 would still fit and be queued.
        refused = await client.post("/score", json={"groups": [_group("refused", 8) for _ in range(3)]})
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        await asyncio.sleep(0.2)
        assert _queue_size((await client.get("/metrics")).text) == 4
        gate.set()
        assert (await running).status_code == 200
        assert (await waiting).status_code == 200
        assert _queue_size((await client.get("/metrics")).text) == 0
    assert len(seen) == 8
    assert not [text for text in seen if "refused" in text]
