"""OpenRLHF's request mapped to group entries and the answers mapped back, aligned with ``query``."""

from __future__ import annotations

from hero_client.schemas import GroupOut, OpenRLHFRequest
from hero_service.api.openrlhf import group_id, strip_trailing, to_entries, to_response


def test_response_is_query_minus_prompt_minus_trailing_special_tokens() -> None:
    request = OpenRLHFRequest(query=["<|im_start|>user\nQ<|im_end|>\nThe answer is \\boxed{4}<|im_end|>\n"
                                     "<|endoftext|>"],
                              prompts=["<|im_start|>user\nQ<|im_end|>\n"], labels=["4"])
    entries, samples = to_entries(request, group_size=None, end_tokens=())
    assert entries[0].responses == ["The answer is \\boxed{4}"]
    assert samples[0].prefix_found


def test_rm_tokenizer_tokens_are_stripped_too() -> None:
    assert strip_trailing("x <custom_eos> <pad>", ["<custom_eos>"] + ["<pad>"]) == "x"
    assert strip_trailing("a</s>b", ["</s>"]) == "a</s>b"


def test_a_prompt_that_is_not_a_prefix_keeps_the_whole_query() -> None:
    entries, samples = to_entries(OpenRLHFRequest(query=["abc"], prompts=["zzz"], labels=[1]),
                                  group_size=None, end_tokens=())
    assert entries[0].responses == ["abc"]
    assert entries[0].reference == "1"
    assert not samples[0].prefix_found


def test_samples_of_one_prompt_form_one_group_by_prompt_and_label() -> None:
    request = OpenRLHFRequest(query=["Pa", "Pb", "Qc", "Pd"], prompts=["P", "P", "Q", "P"],
                              labels=["1", "1", "2", "1"])
    entries, samples = to_entries(request, group_size=None, end_tokens=())
    # P's samples are not all consecutive: two entries with P's id, each a part of a group of 3.
    assert [(e.id, e.responses, e.group_size) for e in entries] == [
        (group_id("P", "1"), ["a", "b"], 3), (group_id("Q", "2"), ["c"], 1), (group_id("P", "1"), ["d"], 3)]
    assert [(s.entry, s.position) for s in samples] == [(0, 0), (0, 1), (1, 0), (2, 0)]


def test_explicit_group_size_splits_a_duplicated_prompt_into_two_groups() -> None:
    request = OpenRLHFRequest(query=["P1", "P2", "P3", "P4"], prompts=["P"] * 4, labels=["x"] * 4)
    entries, _ = to_entries(request, group_size=2, end_tokens=())
    assert [(e.responses, e.group_size) for e in entries] == [(["1", "2"], 2), (["3", "4"], 2)]


def test_label_values_and_missing_lists() -> None:
    entries, _ = to_entries(OpenRLHFRequest(query=["a", "b"], labels=[{"x": 1}]), group_size=None,
                            end_tokens=())
    assert [e.reference for e in entries] == ['{"x": 1}', ""]
    assert group_id("p", "1") != group_id("p", "2")


def test_response_lists_align_with_query_and_are_numeric() -> None:
    group = GroupOut(id="g", rewards=[1.5, -0.1], verifier=[1, 0], verifier_status=["ok", "no_answer"],
                     answers=["4", None], rm_scores=[2.0, None], rm_status=["ok", "error"],
                     truncated=[False, True], normalized=[1.0, -0.05], weight=1.5, sigma=0.0,
                     sigma_ref=0.0, partial=True, group_size=2)
    from hero_service.api.openrlhf import Sample

    out = to_response([group], [Sample(0, 1, True), Sample(0, 0, False)])
    assert out.rewards == [-0.1, 1.5]
    assert out.scores == [0.0, 1.0]
    assert out.extra_logs["ungradable"] == [1.0, 0.0]
    assert out.extra_logs["rm_score"] == [0.0, 2.0]
    assert out.extra_logs["prefix_mismatch"] == [0.0, 1.0]
    assert all(len(v) == 2 for v in out.extra_logs.values())


def test_a_failed_answer_has_the_same_log_keys_as_a_graded_one() -> None:
    from hero_service.api.openrlhf import LOG_KEYS, failed_response

    failed = failed_response(2)
    assert tuple(failed.extra_logs) == LOG_KEYS
    assert failed.rewards == [0.0, 0.0]
    assert failed.extra_logs["server_error"] == [1.0, 1.0]
    assert to_response([], []).extra_logs.keys() == failed.extra_logs.keys()


# What each policy family's tokenizer writes at the end of a response when OpenRLHF decodes it with
# skip_special_tokens=False (eos / end of turn, then padding). Written from the families' tokenizer
# configs; the DeepSeek marker uses FULLWIDTH VERTICAL LINE (U+FF5C) and U+2581, not ASCII bars.
FAMILY_ENDS = {
    "qwen2.5/qwen3 instruct": ["<|im_end|>", "<|endoftext|>"],
    "llama 3.x": ["<|eot_id|>", "<|eom_id|>", "<|end_of_text|>"],
    "llama 2 / mistral": ["</s>"],
    "gemma 2/3": ["<end_of_turn>", "<eos>", "<pad>"],
    "phi-3": ["<|end|>", "<|endoftext|>"],
    "gpt-oss": ["<|return|>", "<|call|>"],
    "deepseek v3/r1 and r1 distills": ["<\uff5cend\u2581of\u2581sentence\uff5c>"],
    "deepseek-coder instruct": ["<|EOT|>"],
}


def test_every_policy_familys_end_markers_are_stripped() -> None:
    prompt = "<|im_start|>user\nQ<|im_end|>\n"
    for family, ends in FAMILY_ENDS.items():
        for end in ends:
            request = OpenRLHFRequest(query=[f"{prompt}The answer is \\boxed{{4}}.{end}{end}\n"], prompts=[prompt],
                                      labels=["4"])
            entries, _ = to_entries(request, group_size=None, end_tokens=())
            assert entries[0].responses == ["The answer is \\boxed{4}."], (family, end)


def test_a_signal_the_mode_skipped_is_not_ungradable() -> None:
    from hero_client import ScoredResponse
    from hero_service.api.openrlhf import Sample

    group = GroupOut(id="g", rewards=[1.0, 0.0], verifier=[1, 0], verifier_status=["ok", "timeout"],
                     answers=["4", None], rm_scores=[None, None], rm_status=["skipped", "skipped"],
                     truncated=[False, False], normalized=[1.0, 0.0], weight=1.0, sigma=0.0,
                     sigma_ref=0.0, partial=False, group_size=2)
    out = to_response([group], [Sample(0, 0, True), Sample(0, 1, True)])
    assert out.extra_logs["ungradable"] == [0.0, 1.0]
    assert [ScoredResponse.from_group(group, i).graded for i in range(2)] == [True, False]
