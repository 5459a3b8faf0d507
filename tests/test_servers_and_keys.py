"""Saved servers, their keys in the keyring (or this session's memory when there is none), the
plain-http warning, and how a request to a server is built."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import keyring
import pytest
from keyring.backends.fail import Keyring as NoKeyring
from PIL import Image

from desktop_app.api_keys import SERVICE, ApiKeys, key_from_environment
from desktop_app.engine.images import PreparedImage
from desktop_app.engine.prompt import PAN_SCAN_BEFORE, PAN_SCAN_BETWEEN
from desktop_app.engine.protocol import ChatMessage, ServerLoadRequest
from desktop_app.engine.remote_messages import GEMMA3_IMAGE_SIDE, chat_messages, data_url, sampling_fields
from desktop_app.errors import UserError
from desktop_app.servers import SavedServer, load_servers, save_servers, servers_path, travels_unencrypted
from desktop_app.settings import GenerationSettings
from tests.support.memory_keyring import MemoryKeyring


def test_keys_go_to_the_keyring_and_nowhere_else(test_keyring: MemoryKeyring) -> None:
    keys = ApiKeys()
    assert keys.unavailable_reason() is None
    assert keys.put("GPU box", "sk-secret") is True
    assert test_keyring.secrets == {(SERVICE, "GPU box"): "sk-secret"}
    assert ApiKeys().get("GPU box") == "sk-secret"  # another instance, the same keyring
    keys.forget("GPU box")
    assert test_keyring.secrets == {} and keys.get("GPU box") == ""


def test_without_a_keyring_keys_live_for_the_session_and_that_is_said_once() -> None:
    keyring.set_keyring(NoKeyring())
    keys = ApiKeys()
    said = keys.unavailable_reason()
    assert said is not None
    reason = str(said)
    assert reason.count(". ") == 0 and reason.endswith(".")
    assert "No system keyring is available" in reason and "--api-key-env" in reason
    assert keys.put("GPU box", "sk-secret") is False
    assert keys.get("GPU box") == "sk-secret"
    assert ApiKeys().get("GPU box") == ""  # gone with the session
    keys.forget("GPU box")
    assert keys.get("GPU box") == ""


def test_a_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_KEY", " sk-env \n")
    assert key_from_environment("MY_KEY") == "sk-env"
    monkeypatch.delenv("MY_KEY")
    with pytest.raises(UserError, match="The environment variable MY_KEY is not set"):
        key_from_environment("MY_KEY")


def test_saved_servers_round_trip_without_keys(test_keyring: MemoryKeyring) -> None:
    servers = [SavedServer("GPU box", "https://gpu.lan:8080/v1", "/etc/ca.pem"),
               SavedServer("laptop", "http://127.0.0.1:8080/v1")]
    ApiKeys().put("GPU box", "sk-secret")
    save_servers(servers)
    assert load_servers() == servers
    assert "sk-secret" not in servers_path().read_text()
    assert json.loads(servers_path().read_text())["schema_version"] == 1


def test_an_unreadable_server_list_means_none(app_home: Path) -> None:
    servers_path().write_text("{not json")
    assert load_servers() == []


@pytest.mark.parametrize(
    ("url", "warned"),
    [
        ("http://gpu.lan:8080/v1", True),
        ("http://192.168.1.20:8080/v1", True),
        ("HTTP://10.0.0.5/v1", True),
        ("https://gpu.lan:8080/v1", False),
        ("http://127.0.0.1:8080/v1", False),
        ("http://127.8.9.10:8080/v1", False),
        ("http://[::1]:8080/v1", False),
        ("http://localhost:11434/v1", False),
    ],
)
def test_plain_http_outside_this_computer_is_flagged(url: str, warned: bool) -> None:
    assert travels_unencrypted(url) is warned


def test_the_request_never_shows_its_key() -> None:
    request = ServerLoadRequest("http://gpu.lan/v1", "gemma", api_key="sk-secret")
    assert "sk-secret" not in repr(request) and "sk-secret" not in str(request)


def _picture(width: int, height: int) -> PreparedImage:
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    return PreparedImage.from_rgb(width, height, image.tobytes(), "picture.png")


def _decoded(url: str) -> Image.Image:
    prefix = "data:image/png;base64,"
    assert url.startswith(prefix)
    return Image.open(io.BytesIO(base64.b64decode(url[len(prefix):])))


def test_images_travel_as_lossless_pngs_shrunk_only_to_what_gemma_3_sees() -> None:
    small, big = _picture(300, 200), _picture(2400, 1800)
    assert _decoded(data_url(small, GEMMA3_IMAGE_SIDE)).tobytes() == small.rgb  # untouched
    assert _decoded(data_url(big, GEMMA3_IMAGE_SIDE)).size == (1194, 896)  # shorter side 896
    assert _decoded(data_url(big)).size == (2400, 1800)  # no limit for other models


def test_pan_and_scan_views_are_sent_with_the_reference_words() -> None:
    wide = _picture(1200, 400)
    messages = chat_messages(
        [ChatMessage.user("Read", wide), ChatMessage.assistant("It says hi."), ChatMessage.user("More?")],
        "Be brief.",
        pan_scan="auto",
    )
    assert messages[0] == {"role": "system", "content": "Be brief."}
    parts = messages[1]["content"]
    kinds = [p["type"] for p in parts]
    assert kinds == ["text", "text", "image_url", "text", "image_url", "text", "image_url", "text", "image_url"]
    assert [p["text"] for p in parts if p["type"] == "text"] == [
        "Read", PAN_SCAN_BEFORE, PAN_SCAN_BETWEEN, " ", " "]
    assert messages[2:] == [{"role": "assistant", "content": "It says hi."}, {"role": "user", "content": "More?"}]
    plain = chat_messages([ChatMessage.user("Read", wide)], pan_scan="off")
    assert [p["type"] for p in plain[0]["content"]] == ["text", "image_url"]


def test_sampling_settings_map_onto_the_fields_servers_read() -> None:
    standard, extra = sampling_fields(GenerationSettings(
        temperature=0.7, top_k=40, top_p=0.9, min_p=0.05, repeat_penalty=1.1, seed=5, max_tokens=99))
    assert standard == {"temperature": 0.7, "top_p": 0.9, "max_tokens": 99, "seed": 5}
    assert extra == {"top_k": 40, "min_p": 0.05, "repeat_penalty": 1.1, "repetition_penalty": 1.1}
    standard, extra = sampling_fields(GenerationSettings())
    assert "seed" not in standard and extra == {"top_k": 64}
