"""Where HERO_RM_MODEL's files come from, decided before loading: no network in these tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from hero_service.reward_model.locate import ModelSource, ModelSourceError, locate


def test_an_existing_directory_is_read_locally(tmp_path: Path) -> None:
    assert locate(str(tmp_path)) == ModelSource(str(tmp_path), local_files_only=True)


@pytest.mark.parametrize("model", ["/no/such/dir", "./models/rm/v2", "~/missing-model"])
def test_a_missing_path_names_the_path_and_the_fix(model: str) -> None:
    with pytest.raises(ModelSourceError, match=r"no such directory\. Fix:") as caught:
        locate(model)
    assert model in str(caught.value)


def test_a_file_is_not_a_model_directory(tmp_path: Path) -> None:
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(ModelSourceError, match="a file, not a directory"):
        locate(str(tmp_path / "model.safetensors"))


def test_offline_and_not_cached_fails_without_the_network(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(ModelSourceError, match="HF_HUB_OFFLINE is set"):
        locate("someorg/some-reward-model")
