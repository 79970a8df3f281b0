"""Text-pair RMs without a chat template (DeBERTa-style): scored as their cards do, tokenizer(question, answer)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    BertConfig,
    BertForSequenceClassification,
    DebertaV2Config,
    DebertaV2ForSequenceClassification,
)

from hero_service.app import create_app
from hero_service.reward_model.base import RMItem
from hero_service.reward_model.hf import HFRewardModel
from hero_service.settings import Settings
from tests.integration.asgi import ready_client

QUESTION = "What is the sum of two and three? Please think carefully."
ANSWER = "First we add the numbers, then we check. The answer is 5."


def build_pair_rm(path: Path, minilm_dir: Path, kind: str) -> Path:
    """A tiny random seq-cls RM with the MiniLM (BERT) tokenizer, which has no chat template."""
    tok: Any = AutoTokenizer.from_pretrained(minilm_dir)
    assert not getattr(tok, "chat_template", None)
    torch.manual_seed(0)
    shape = {"vocab_size": tok.vocab_size, "hidden_size": 32, "num_hidden_layers": 2,
             "num_attention_heads": 2, "intermediate_size": 64, "max_position_embeddings": 128,
             "num_labels": 1, "pad_token_id": tok.pad_token_id, "initializer_range": 0.5}
    model: Any
    if kind == "deberta":
        model = DebertaV2ForSequenceClassification(DebertaV2Config(**shape, type_vocab_size=0))
    else:
        model = BertForSequenceClassification(BertConfig(**shape, type_vocab_size=2))
    with torch.no_grad():  # a unit-variance head, so scores are O(1) and a 1e-4 tolerance means something
        model.classifier.weight.copy_(torch.randn(model.classifier.weight.shape,
                                                  generator=torch.Generator().manual_seed(1)))
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


@pytest.fixture(scope="module", params=["deberta", "bert"])
def pair_rm_dir(request: pytest.FixtureRequest, minilm_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_pair_rm(tmp_path_factory.mktemp(f"tiny-{request.param}-rm"), minilm_dir, request.param)


@pytest.fixture(scope="module")
def pair_rm(pair_rm_dir: Path) -> HFRewardModel:
    rm = HFRewardModel(str(pair_rm_dir), device="cpu")
    rm.load()
    return rm


def card_score(path: Path, question: str, answer: str) -> float:
    """What the model card computes: ``model(**tokenizer(question, answer))``."""
    tok: Any = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path).eval()
    with torch.inference_mode():
        return float(model(**tok(question, answer, return_tensors="pt")).logits[0, 0])


def run(rm: HFRewardModel, items: list[RMItem]) -> list[float]:
    with torch.inference_mode():
        return rm.forward(rm.encode(items))


def test_auto_picks_the_text_pair_and_says_so(pair_rm: HFRewardModel) -> None:
    assert pair_rm.input_layout == "pair"
    assert pair_rm.info.input == "pair"


def test_scores_equal_the_model_card_call(pair_rm: HFRewardModel, pair_rm_dir: Path) -> None:
    pairs = [(QUESTION, ANSWER), ("2 + 2?", "4"), (QUESTION * 2, "I think it is five, so 5."), ("hi", ANSWER * 2)]
    scores = run(pair_rm, [RMItem(q, a) for q, a in pairs])  # one padded batch of mixed lengths
    expected = [card_score(pair_rm_dir, q, a) for q, a in pairs]
    assert scores == pytest.approx(expected, abs=1e-4)
    assert len({round(s, 3) for s in expected}) == len(expected)  # the scores really differ
    tok: Any = AutoTokenizer.from_pretrained(pair_rm_dir)
    [enc] = pair_rm.encode([RMItem(QUESTION, ANSWER)])
    assert enc.ids == tok(QUESTION, ANSWER)["input_ids"]
    assert enc.token_types == tok(QUESTION, ANSWER)["token_type_ids"]


def test_chat_prompts_become_the_question(pair_rm: HFRewardModel, pair_rm_dir: Path) -> None:
    chat = [{"role": "user", "content": "2 + 3?"}, {"role": "assistant", "content": "5"},
            {"role": "user", "content": "and times 2?"}]
    assert pair_rm.question(RMItem(chat, "10")) == "2 + 3?\n\n5\n\nand times 2?"
    [score] = run(pair_rm, [RMItem(chat, "10")])
    assert score == pytest.approx(card_score(pair_rm_dir, "2 + 3?\n\n5\n\nand times 2?", "10"), abs=1e-4)


def test_truncation_keeps_the_end_of_the_answer(pair_rm_dir: Path) -> None:
    rm = HFRewardModel(str(pair_rm_dir), device="cpu", max_length=64)
    rm.load()
    long_question = "background " * 200 + QUESTION
    long_answer = "Let us solve it. " + "step " * 300 + "So the answer is 5."
    [cut, whole] = rm.encode([RMItem(long_question, long_answer), RMItem(QUESTION, "5")])
    assert (cut.truncated, whole.truncated) == (True, False)
    assert len(cut.ids) == 64
    text = rm._tokenizer.decode(cut.ids)
    assert text.startswith("[CLS]")
    assert text.endswith("so the answer is 5. [SEP]")  # the MiniLM tokenizer lowercases
    assert "please think carefully. [SEP] let us" in text  # the end of the question, the start of the answer
    assert text.count("background") < 10


def test_chat_layout_on_a_model_without_a_template_is_refused_with_the_fix(pair_rm_dir: Path) -> None:
    with pytest.raises(ValueError, match="HERO_RM_INPUT=pair"):
        HFRewardModel(str(pair_rm_dir), device="cpu", input_layout="chat").load()


def test_pair_layout_can_be_forced_on_a_chat_model(tiny_qwen2_rm_dir: Path) -> None:
    rm = HFRewardModel(str(tiny_qwen2_rm_dir), device="cpu", input_layout="pair")
    rm.load()
    assert rm.info.input == "pair"
    [enc] = rm.encode([RMItem(QUESTION, ANSWER)])
    tok: Any = AutoTokenizer.from_pretrained(tiny_qwen2_rm_dir)
    assert enc.ids == tok(QUESTION, ANSWER)["input_ids"]


async def test_served_through_the_app_with_the_layout_in_info(pair_rm_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "rm"
    shutil.copytree(pair_rm_dir, path)
    app = create_app(Settings(rm_model=str(path), rm_device="cpu", verifier_workers=1))
    async with ready_client(app) as client:
        info = (await client.get("/info")).json()
        reply = await client.post("/score", json={"groups": [{"prompt": QUESTION, "reference": "5",
                                                              "responses": [ANSWER, "It is 6."]}]})
    assert info["model"]["input"] == "pair"
    assert reply.status_code == 200
    group = reply.json()["groups"][0]
    assert group["rm_status"] == ["ok", "ok"]
    assert group["rm_scores"][0] == pytest.approx(card_score(path, QUESTION, ANSWER), abs=1e-4)
