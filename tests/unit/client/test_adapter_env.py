"""The adapters' environment: HERO_CLIENT_* names, the old HERO_* ones deprecated but still read."""

from __future__ import annotations

import pytest

from hero_client.integrations._common import AdapterSettings


def test_client_prefixed_names_configure_the_adapters() -> None:
    env = {"HERO_CLIENT_URL": "http://a.test,http://b.test", "HERO_CLIENT_API_KEY": "k",
           "HERO_CLIENT_GROUP_SIZE": "8", "HERO_CLIENT_MODE": "verifier", "HERO_CLIENT_SESSION": "run-1",
           "HERO_CLIENT_PARAMS": '{"alpha": 0.1}', "HERO_CLIENT_TIMEOUT": "30", "HERO_CLIENT_RETRIES": "2"}
    settings = AdapterSettings.resolve(environ=env)
    assert settings.urls == ("http://a.test", "http://b.test")
    assert (settings.api_key, settings.group_size, settings.timeout, settings.retries) == ("k", 8, 30.0, 2)
    assert (settings.params.mode, settings.params.session, settings.params.alpha) == ("verifier", "run-1", 0.1)


def test_the_server_namespace_still_works_with_a_deprecation_warning() -> None:
    with pytest.warns(DeprecationWarning, match="HERO_URL is deprecated.*HERO_CLIENT_URL"):
        settings = AdapterSettings.resolve(environ={"HERO_URL": "http://old.test"})
    assert settings.urls == ("http://old.test",)


def test_the_client_name_wins_over_the_old_one() -> None:
    # A server's HERO_MODE in the same environment no longer decides the adapter's mode.
    settings = AdapterSettings.resolve(environ={"HERO_CLIENT_MODE": "rm", "HERO_MODE": "verifier"})
    assert settings.params.mode == "rm"
