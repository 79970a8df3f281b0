"""GPU throughput of the RM forward pass: tokens/s and MFU for Skywork-V2-like and AceMath-like shapes.

Random weights from the Qwen3-0.6B config (Skywork-Reward-V2-Qwen3-0.6B's base) and the Qwen2.5-7B config
(AceMath-7B-RM's base), written inline so nothing is downloaded; bf16, SDPA, one GPU. Each batch holds
``--batch-tokens`` padded tokens of sequences of 1k, 4k or 8k tokens, padded on the right and run the way
the engine runs them (``pad_right`` then ``model(input_ids, attention_mask, use_cache=False)``):

- ``uniform``: every sequence has the full length (the mask is all ones);
- ``mixed``: lengths drawn from [L/2, L], as after the batcher's length sort within a budget; tokens/s
  counts real tokens only, so padding shows up as lost throughput.

MFU = 2 x non-embedding params x real tokens / time / peak, where peak is what a large bf16 matmul reaches
on this GPU in this run (attention FLOPs are not counted, so MFU reads low at 8k).

    python bench/rm_gpu.py [--models qwen3-0.6b qwen2.5-7b] [--lengths 1024 4096 8192] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from hero_service.reward_model.engine import pad_right

CONFIGS: dict[str, dict[str, Any]] = {
    # huggingface.co/Qwen/Qwen3-0.6B/blob/main/config.json
    "qwen3-0.6b": {
        "model_type": "qwen3",
        "vocab_size": 151936,
        "hidden_size": 1024,
        "intermediate_size": 3072,
        "num_hidden_layers": 28,
        "num_attention_heads": 16,
        "num_key_value_heads": 8,
        "head_dim": 128,
        "max_position_embeddings": 40960,
        "rope_theta": 1_000_000.0,
        "rms_norm_eps": 1e-6,
        "tie_word_embeddings": True,
    },
    # huggingface.co/Qwen/Qwen2.5-7B/blob/main/config.json
    "qwen2.5-7b": {
        "model_type": "qwen2",
        "vocab_size": 152064,
        "hidden_size": 3584,
        "intermediate_size": 18944,
        "num_hidden_layers": 28,
        "num_attention_heads": 28,
        "num_key_value_heads": 4,
        "max_position_embeddings": 32768,
        "rope_theta": 1_000_000.0,
        "rms_norm_eps": 1e-6,
        "tie_word_embeddings": False,
    },
}


def cuda_time(fn: Callable[[], object], repeat: int) -> float:
    """Mean seconds per call, after one warm-up call, timed with CUDA events."""
    fn()
    torch.cuda.synchronize()
    event: Any = torch.cuda.Event
    start, end = event(enable_timing=True), event(enable_timing=True)
    start.record()
    for _ in range(repeat):
        fn()
    end.record()
    torch.cuda.synchronize()
    return float(start.elapsed_time(end)) / 1000 / repeat


def peak_bf16_flops(n: int = 8192, repeat: int = 20) -> float:
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    seconds = cuda_time(lambda: a @ b, repeat)
    return 2 * n**3 / seconds


def build(name: str) -> Any:
    import transformers

    auto: Any = transformers  # from_config is untyped
    values = dict(CONFIGS[name])
    config = auto.AutoConfig.for_model(values.pop("model_type"), num_labels=1, pad_token_id=0, **values)
    with torch.device("cuda"):
        model = auto.AutoModelForSequenceClassification.from_config(
            config, dtype=torch.bfloat16, attn_implementation="sdpa"
        )
    return model.eval()


def non_embedding_params(model: Any) -> int:
    embedding = int(model.get_input_embeddings().weight.numel())
    return int(sum(p.numel() for p in model.parameters()) - embedding)


def bench(model: Any, length: int, batch_tokens: int, mixed: bool, repeat: int, seed: int) -> tuple[int, float]:
    """(real tokens per batch, seconds per batch)"""
    gen = torch.Generator().manual_seed(seed)
    n = max(1, batch_tokens // length)
    vocab = model.config.vocab_size
    lengths: list[int] = [length] * n
    if mixed:
        lengths = [int(k) for k in torch.randint(length // 2, length + 1, (n,), generator=gen)]
    rows = [torch.randint(1, vocab, (k,), generator=gen).tolist() for k in lengths]
    ids, mask = pad_right(rows, 0, torch.device("cuda"))

    def step() -> None:
        with torch.inference_mode():
            model(input_ids=ids, attention_mask=mask, use_cache=False)

    return sum(lengths), cuda_time(step, repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--lengths", nargs="+", type=int, default=[1024, 4096, 8192])
    parser.add_argument("--batch-tokens", type=int, default=16384, help="padded tokens per batch")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("needs a CUDA device")

    peak = peak_bf16_flops()
    print(f"device: {torch.cuda.get_device_name()}  measured bf16 matmul peak: {peak / 1e12:.0f} TFLOP/s")
    rows = []
    for name in args.models:
        model = build(name)
        params = non_embedding_params(model)
        print(f"\n{name}: {params / 1e9:.2f}B non-embedding params, batch budget {args.batch_tokens} tokens")
        print(f"  {'length':>6} {'layout':>8} {'seqs':>5} {'tokens/s':>10} {'MFU':>6}  ms/batch")
        for length in args.lengths:
            for mixed in (False, True):
                tokens, seconds = bench(model, length, args.batch_tokens, mixed, args.repeat, seed=length)
                rate = tokens / seconds
                mfu = 2 * params * rate / peak
                layout = "mixed" if mixed else "uniform"
                seqs = max(1, args.batch_tokens // length)
                print(f"  {length:>6} {layout:>8} {seqs:>5} {rate:>10.0f} {mfu:>6.1%}  {seconds * 1000:.1f}")
                rows.append({"model": name, "length": length, "layout": layout, "tokens_per_s": rate,
                             "mfu": mfu, "seconds_per_batch": seconds})
        del model
        torch.cuda.empty_cache()
    if args.json:
        args.json.write_text(json.dumps({"peak_flops": peak, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
