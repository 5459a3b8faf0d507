"""The Hugging Face token: kept in the keyring (a test backend here), or only for the session when
there is no keyring; checked against the stand-in hub (whoami and each gated repository); used
by downloads before HF_TOKEN and ``hf auth login``; never written to a file."""

from __future__ import annotations

from pathlib import Path

import huggingface_hub.constants
import pytest

from desktop_app.errors import UserError
from desktop_app.models.download import check_token, resolve_token
from desktop_app.models.hub_token import KEYRING_SERVICE, KEYRING_USER, HubTokens
from tests.support.data import Models
from tests.support.hub_server import GOOD_TOKEN, NO_ACCESS_TOKEN, USER, FakeHub
from tests.support.memory_keyring import MemoryKeyring
from tests.support.tiny_repo import REPO, make_entry

OTHER_REPO = "google/tiny-gemma-3-qat-gguf"


def test_a_saved_token_lives_in_the_keyring_only(
    test_keyring: MemoryKeyring, no_hub_login: None, app_home: Path
) -> None:
    tokens = HubTokens()
    assert tokens.current() is None and tokens.keyring_problem() is None
    assert tokens.save(GOOD_TOKEN) == "keyring"
    assert test_keyring.secrets == {(KEYRING_SERVICE, KEYRING_USER): GOOD_TOKEN}
    current = tokens.current()
    assert current is not None and (current.value, current.source) == (GOOD_TOKEN, "keyring")
    assert GOOD_TOKEN not in repr(current)
    assert resolve_token(None) == GOOD_TOKEN  # downloads from the command line find it too
    assert not any(GOOD_TOKEN in p.read_text(errors="replace") for p in app_home.rglob("*") if p.is_file())

    tokens.forget()
    assert tokens.current() is None and test_keyring.secrets == {}


def test_without_a_keyring_the_token_lasts_the_session_and_one_sentence_says_so(
    no_keyring: None, no_hub_login: None
) -> None:
    tokens = HubTokens()
    said = tokens.keyring_problem()
    assert said is not None
    problem = str(said)
    assert problem.startswith("No system keyring is available")
    assert "only until Gemma Desktop closes" in problem and "HF_TOKEN" in problem
    assert tokens.save(GOOD_TOKEN) == "this session"
    current = tokens.current()
    assert current is not None and (current.value, current.source) == (GOOD_TOKEN, "this session")
    assert HubTokens().current() is None  # another run of the app does not have it
    tokens.forget()
    assert tokens.current() is None


def test_huggingface_hubs_own_login_is_used_and_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", GOOD_TOKEN)
    current = HubTokens().current()
    assert current is not None and current.source == "HF_TOKEN"
    monkeypatch.delenv("HF_TOKEN")
    monkeypatch.setattr("desktop_app.models.hub_token.get_token", lambda: "hf_from_the_token_file")
    current = HubTokens().current()
    assert current is not None and (current.value, current.source) == ("hf_from_the_token_file", "hf auth login")


def test_the_hub_names_the_owner_and_the_licences_not_accepted(hub: FakeHub, models: Models) -> None:
    hub.add(OTHER_REPO, "tiny-gemma-3-Q4_0.gguf", models.tiny.read_bytes())
    hub.gated.update({REPO, OTHER_REPO})
    gated = [make_entry(gated=True), make_entry(gated=True, repo=OTHER_REPO, entry_id="other")]

    good = check_token(GOOD_TOKEN, gated, endpoint=hub.hub_url)
    assert (good.user, good.not_accepted) == (USER, ())

    refused = check_token(NO_ACCESS_TOKEN, gated, endpoint=hub.hub_url)
    assert refused.user == USER and refused.not_accepted == (REPO, OTHER_REPO)
    assert refused.licence_page(REPO) == f"https://huggingface.co/{REPO}"


def test_a_token_the_hub_refuses_is_one_sentence(hub: FakeHub) -> None:
    with pytest.raises(UserError, match=r"^Hugging Face does not accept this token; copy it again from https://"):
        check_token("hf_wrong", [make_entry(gated=True)], endpoint=hub.hub_url)
    with pytest.raises(UserError, match="Paste a Hugging Face access token first"):
        check_token("  ", [], endpoint=hub.hub_url)


def test_an_unreachable_hub_is_one_sentence(online: None) -> None:
    with pytest.raises(UserError, match="Could not reach Hugging Face to check the token"):
        check_token(GOOD_TOKEN, [], endpoint="http://127.0.0.1:9")


def test_offline_mode_is_one_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(UserError, match="HF_HUB_OFFLINE is set"):
        check_token(GOOD_TOKEN, [], endpoint="http://127.0.0.1:9")
