"""Lone surrogates at the wire edge: text is repaired, identifiers are refused."""

from __future__ import annotations

import pydantic
import pytest

from hero_client.schemas import GroupIn, OpenRLHFRequest, ScoreParams, clean_text


def test_clean_text_replaces_only_lone_surrogates() -> None:
    assert clean_text("a\ud800b\udfffc") == "a\ufffdb\ufffdc"
    assert clean_text("\ud83d\ude00") == "\U0001f600"  # a pair written as two escapes is one character
    text = "plain ascii and ünïcödé \U0001f600"
    assert clean_text(text) is text


def test_text_fields_are_repaired() -> None:
    group = GroupIn(id="g", prompt=[{"role": "user", "content": "q\ud800"}],  # type: ignore[list-item]
                    reference={"x": "1\udc00"}, responses=["r\ud800"])  # type: ignore[arg-type]
    assert group.responses == ["r\ufffd"]
    assert group.reference == '{"x": "1\ufffd"}'
    assert not isinstance(group.prompt, str)
    assert group.prompt[0].content == "q\ufffd"
    request = OpenRLHFRequest(query=["q\ud800"], prompts=["p\udfff"], labels=[{"a": ["x\ud800"]}, "y\udfff", 3])
    assert request.query == ["q\ufffd"]
    assert request.prompts == ["p\ufffd"]
    assert request.labels == [{"a": ["x\ufffd"]}, "y\ufffd", 3]


@pytest.mark.parametrize("field", ["id", "part_id"])
def test_identifiers_with_lone_surrogates_are_refused(field: str) -> None:
    values = {"id": "g", "reference": "1", "responses": ["a"], field: "x\ud800"}
    with pytest.raises(pydantic.ValidationError) as caught:
        GroupIn.model_validate(values)
    assert caught.value.errors()[0]["loc"] == (field,)
    assert "surrogate" in caught.value.errors()[0]["msg"]
    with pytest.raises(pydantic.ValidationError, match="surrogate"):
        ScoreParams(session="s\udfff")
