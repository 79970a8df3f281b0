"""HFRewardModel on tiny random Llama and Qwen2 sequence classifiers built offline (see tests/conftest.py)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, LlamaConfig, LlamaModel

from hero_service.reward_model.base import InProcess, RMItem
from hero_service.reward_model.hf import HFRewardModel

QUESTION = "What is the sum of two and three? Please think carefully."
ANSWER = "First we add the numbers, then we check. The answer is \\boxed{5}."


def loaded(path: Path, **kwargs: Any) -> HFRewardModel:
    rm = HFRewardModel(str(path), device="cpu", **kwargs)
    rm.load()
    return rm


def run(rm: HFRewardModel, items: list[RMItem]) -> list[float]:
    with torch.inference_mode():
        return rm.forward(rm.encode(items))


@pytest.fixture(scope="module", params=["llama", "qwen2"])
def model_dir(request: pytest.FixtureRequest) -> Path:
    path: Path = request.getfixturevalue(f"tiny_{request.param}_rm_dir")
    return path


@pytest.fixture(scope="module")
def rm(model_dir: Path) -> HFRewardModel:
    return loaded(model_dir, max_length=512)


def reference_score(path: Path, messages: list[dict[str, str]]) -> float:
    """The score as a model card computes it: the template's own ids, one sequence, no padding."""
    tok: Any = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path).eval()
    ids = tok.apply_chat_template(messages, tokenize=True, return_dict=True, return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        return float(model(input_ids=ids).logits[0, 0])


def test_score_is_the_raw_logit_of_the_unpadded_sequence(rm: HFRewardModel, model_dir: Path) -> None:
    item = RMItem(QUESTION, ANSWER)
    [score] = run(rm, [item])
    assert score == pytest.approx(reference_score(model_dir, rm.messages(item)), abs=1e-4)


def test_scores_are_not_squashed(rm: HFRewardModel) -> None:
    scores = run(rm, [RMItem(QUESTION, f"answer {k} " * (k + 1)) for k in range(8)])
    assert max(abs(s) for s in scores) > 1.0  # a sigmoid would keep every score inside (0, 1)


def test_score_does_not_depend_on_batch_mates(rm: HFRewardModel) -> None:
    target = RMItem(QUESTION, ANSWER)
    mates = [
        RMItem("hi", "ok"),
        RMItem(QUESTION * 4, ANSWER * 6),
        RMItem([{"role": "user", "content": "2 + 2?"}], "4"),
        RMItem(QUESTION, ANSWER * 2),
    ]
    [alone] = run(rm, [target])
    batch = run(rm, [mates[0], target, *mates[1:]])
    assert len({len(e.ids) for e in rm.encode([target, *mates])}) == 5  # really mixed lengths
    assert batch[1] == pytest.approx(alone, abs=1e-4)
    assert run(rm, mates) == pytest.approx([batch[0], *batch[2:]], abs=1e-4)


def test_bos_appears_exactly_once(tiny_llama_rm_dir: Path) -> None:
    rm = loaded(tiny_llama_rm_dir)
    tok: Any = AutoTokenizer.from_pretrained(tiny_llama_rm_dir)
    text = tok.apply_chat_template(rm.messages(RMItem(QUESTION, ANSWER)), tokenize=False)
    assert tok(text)["input_ids"][:2] == [tok.bos_token_id, tok.bos_token_id]  # the trap is real
    [enc] = rm.encode([RMItem(QUESTION, ANSWER)])
    assert enc.ids[0] == tok.bos_token_id
    assert enc.ids.count(tok.bos_token_id) == 1


def test_no_bos_is_invented_for_a_tokenizer_without_one(tiny_qwen2_rm_dir: Path) -> None:
    rm = loaded(tiny_qwen2_rm_dir)
    tok: Any = AutoTokenizer.from_pretrained(tiny_qwen2_rm_dir)
    messages = rm.messages(RMItem(QUESTION, ANSWER))
    expected = tok.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"]
    assert rm.encode([RMItem(QUESTION, ANSWER)])[0].ids == list(expected)


def test_pad_token_is_set_when_the_config_has_none(tiny_llama_rm_dir: Path) -> None:
    rm = loaded(tiny_llama_rm_dir)
    assert AutoModelForSequenceClassification.from_pretrained(tiny_llama_rm_dir).config.pad_token_id is None
    assert isinstance(rm._model.config.pad_token_id, int)
    assert rm.info.extra["pad_token_id"] == rm._model.config.pad_token_id
    assert len(run(rm, [RMItem("a", "b"), RMItem(QUESTION, ANSWER)])) == 2


def test_padding_is_on_the_right(rm: HFRewardModel) -> None:
    from hero_service.reward_model.engine import pad_right

    ids, mask = pad_right([[5, 6, 7], [8]], rm._pad_id, rm.device)
    assert ids.tolist() == [[5, 6, 7], [8, rm._pad_id, rm._pad_id]]
    assert mask.tolist() == [[1, 1, 1], [1, 0, 0]]


@pytest.fixture
def pad_is_last_token_dir(tiny_qwen2_rm_dir: Path, tmp_path: Path) -> Path:
    """The tiny Qwen2 RM with the pad id set to <|im_end|>, which ends every turn of its template."""
    path = tmp_path / "pad-is-im-end"
    shutil.copytree(tiny_qwen2_rm_dir, path)
    model = AutoModelForSequenceClassification.from_pretrained(path)
    tok: Any = AutoTokenizer.from_pretrained(path)
    model.config.pad_token_id = tok.convert_tokens_to_ids("<|im_end|>")
    tok.chat_template = tok.chat_template.replace("<|im_end|>\n{% endfor %}", "<|im_end|>{% endfor %}")
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


def test_last_real_token_is_read_even_when_it_is_the_pad_id(pad_is_last_token_dir: Path) -> None:
    rm = loaded(pad_is_last_token_dir)
    [enc] = rm.encode([RMItem(QUESTION, ANSWER)])
    assert enc.ids[-1] == rm._pad_id
    model = rm._model
    with torch.inference_mode():
        hidden = model.model(input_ids=torch.tensor([enc.ids])).last_hidden_state
        expected = float(model.score(hidden[0, -1])[0])
        pooled_by_pad_id = float(model(input_ids=torch.tensor([enc.ids])).logits[0, 0])
    assert pooled_by_pad_id != pytest.approx(expected, abs=1e-3)  # transformers' pooling misses it
    assert run(rm, [RMItem(QUESTION, ANSWER), RMItem("x", "y")])[0] == pytest.approx(expected, abs=1e-4)


def test_truncation_keeps_the_end_of_the_response_and_flags(tiny_llama_rm_dir: Path) -> None:
    rm = loaded(tiny_llama_rm_dir, max_length=96)
    tok = rm._tokenizer
    long_prompt = "background " * 100 + QUESTION
    long_response = "first then therefore " * 100 + "The answer is \\boxed{5}."
    [cut, whole] = rm.encode([RMItem(long_prompt, long_response), RMItem(QUESTION, ANSWER)])
    assert cut.truncated
    assert not whole.truncated
    assert len(cut.ids) == 96
    text = tok.decode(cut.ids)
    assert text.endswith("The answer is \\boxed{5}.<|eot_id|>")
    assert text.startswith("<|begin_of_text|><|start_header_id|>user<|end_header_id|>")
    assert "Please think carefully." in text  # the end of the prompt (the question) survives
    assert text.count("background") < 100
    assert "<|start_header_id|>assistant<|end_header_id|>" in text


def test_truncation_with_a_short_prompt_cuts_the_middle_of_the_response(tiny_qwen2_rm_dir: Path) -> None:
    rm = loaded(tiny_qwen2_rm_dir, max_length=80)
    response = "Let us solve it. " + "step " * 200 + "So \\boxed{7}."
    [enc] = rm.encode([RMItem("2 + 5?", response)])
    text = rm._tokenizer.decode(enc.ids)
    assert enc.truncated
    assert len(enc.ids) == 80
    assert "<|im_start|>user\n2 + 5?<|im_end|>" in text  # a prompt under a quarter of the budget stays whole
    assert "Let us" in text
    assert text.endswith("So \\boxed{7}.<|im_end|>\n")


async def test_scores_through_the_batcher_carry_the_truncated_flag(tiny_qwen2_rm_dir: Path) -> None:
    rm = HFRewardModel(str(tiny_qwen2_rm_dir), device="cpu", max_length=64)
    await rm.start()
    try:
        scores = await rm.score([RMItem(QUESTION, ANSWER * 20), RMItem("hi", "ok")])
    finally:
        await rm.close()
    assert [s.truncated for s in scores] == [True, False]
    assert all(s.status == "ok" and s.score is not None for s in scores)


def test_system_prompt_and_chat_messages(tiny_qwen2_rm_dir: Path) -> None:
    rm = loaded(tiny_qwen2_rm_dir, system_prompt="Please reason step by step.")
    chat = [{"role": "user", "content": "2 + 3?"}, {"role": "assistant", "content": "5"},
            {"role": "user", "content": "and times 2?"}]
    [enc] = rm.encode([RMItem(chat, "10")])
    text = rm._tokenizer.decode(enc.ids)
    assert text.startswith("<|im_start|>system\nPlease reason step by step.<|im_end|>")
    assert "You are a helpful assistant." not in text
    assert text.endswith("<|im_start|>user\nand times 2?<|im_end|>\n<|im_start|>assistant\n10<|im_end|>\n")
    # A prompt that brings its own system turn keeps it.
    own = rm.messages(RMItem([{"role": "system", "content": "S"}, {"role": "user", "content": "U"}], "R"))
    assert [m["content"] for m in own] == ["S", "U", "R"]


class OOMOnLargeBatches:
    """Wraps a model and raises CUDA's out-of-memory error on any batch above ``limit`` rows."""

    def __init__(self, model: Any, limit: int) -> None:
        self.model, self.limit, self.ooms = model, limit, 0

    def __call__(self, *, input_ids: torch.Tensor, **kwargs: Any) -> Any:
        if input_ids.shape[0] > self.limit:
            self.ooms += 1
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return self.model(input_ids=input_ids, **kwargs)


async def test_out_of_memory_splits_and_scores_match(tiny_llama_rm_dir: Path) -> None:
    items = [RMItem(QUESTION, ANSWER * (k + 1)) for k in range(6)]
    expected = run(loaded(tiny_llama_rm_dir), items)
    rm = HFRewardModel(str(tiny_llama_rm_dir), device="cpu")
    await rm.start()
    try:
        flaky = OOMOnLargeBatches(rm._model, limit=2)
        rm._model = flaky
        scores = await rm.score(items)
    finally:
        await rm.close()
    assert flaky.ooms >= 1
    assert [s.status for s in scores] == ["ok"] * 6
    assert [s.score for s in scores] == pytest.approx(expected, abs=1e-4)


async def test_score_output_adapter(tiny_llama_rm_dir: Path) -> None:
    """ArmoRM-style models put the reward in ``.score``; HERO_RM_OUTPUT=score reads it."""

    class ScoreOutput:
        def __init__(self, model: Any) -> None:
            self.model = model

        def __call__(self, **kwargs: Any) -> Any:
            logits = self.model(**kwargs).logits
            return type("Out", (), {"score": logits * 0 + 42.0, "logits": logits})()

    rm = HFRewardModel(str(tiny_llama_rm_dir), device="cpu", output="score")
    rm.load()
    rm._model = ScoreOutput(rm._model)
    assert run(rm, [RMItem("a", "b"), RMItem(QUESTION, ANSWER)]) == [42.0, 42.0]


def test_checkpoint_without_a_head_is_refused(tmp_path: Path, tiny_llama_rm_dir: Path) -> None:
    config = LlamaConfig(vocab_size=700, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1)
    LlamaModel(config).save_pretrained(tmp_path)
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        shutil.copy(tiny_llama_rm_dir / name, tmp_path / name)
    with pytest.raises(ValueError, match="no trained classification head"):
        HFRewardModel(str(tmp_path), device="cpu").load()


def test_model_without_a_chat_template_is_refused_the_chat_layout(tmp_path: Path, tiny_qwen2_rm_dir: Path) -> None:
    shutil.copytree(tiny_qwen2_rm_dir, tmp_path / "rm")
    (tmp_path / "rm" / "chat_template.jinja").unlink()
    with pytest.raises(ValueError, match="no chat template"):
        HFRewardModel(str(tmp_path / "rm"), device="cpu", input_layout="chat").load()
    auto = HFRewardModel(str(tmp_path / "rm"), device="cpu")
    auto.load()
    assert auto.info.input == "pair"  # auto falls back to the text pair (tests/.../test_rm_pair.py)


def test_info_lists_the_end_tokens(tiny_qwen2_rm_dir: Path) -> None:
    assert loaded(tiny_qwen2_rm_dir).info.end_tokens == ("<|endoftext|>", "<|im_end|>")


def test_trust_remote_code_is_off_unless_asked(tiny_llama_rm_dir: Path) -> None:
    assert HFRewardModel(str(tiny_llama_rm_dir)).trust_remote_code is False
    assert loaded(tiny_llama_rm_dir).info.extra["trust_remote_code"] is False


def test_info_reports_the_model(rm: HFRewardModel, model_dir: Path) -> None:
    info = rm.info
    assert info.kind == "reward-model"
    assert info.model_id == str(model_dir)
    assert info.runtime == InProcess(device="cpu", dtype="float32")
    assert info.max_length == 512
