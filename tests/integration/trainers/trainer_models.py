"""Tiny random policies and tokenizers for trainer tests, built offline in seconds (never downloaded).

Shared by the trainer tests.
"""

from __future__ import annotations

import importlib
from typing import Any

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def tiny_tokenizer() -> Any:
    """A byte-level BPE tokenizer (any text encodes) with ChatML specials, trained on a few lines."""
    tokenizers = importlib.import_module("tokenizers")
    transformers = importlib.import_module("transformers")

    tok = tokenizers.Tokenizer(tokenizers.models.BPE())
    tok.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = tokenizers.decoders.ByteLevel()
    trainer = tokenizers.trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    corpus = [f"What is {i} + {i}? The answer is \\boxed{{{2 * i}}}." for i in range(100)]
    tok.train_from_iterator(corpus, trainer=trainer)
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>",
                                                pad_token="<|endoftext|>")
    fast.chat_template = CHATML
    return fast


def tiny_policy(tokenizer: Any, seed: int = 0) -> Any:
    """A random 2-layer Qwen2 causal LM sized for ``tokenizer``."""
    torch = importlib.import_module("torch")
    transformers = importlib.import_module("transformers")

    torch.manual_seed(seed)
    config = transformers.Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=256,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    return transformers.Qwen2ForCausalLM(config)
