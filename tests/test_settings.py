"""Settings in sections, named profiles, cache keys, and an import that
leaves the process environment alone."""

import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

from assistant.errors import SettingsError
from assistant.resources import data_path
from assistant.settings import SECTIONS, Settings, profiles

from conftest import ROOT


@pytest.fixture(autouse=True)
def no_settings_file(tmp_path, monkeypatch):
    """No assistant.toml from the working directory, no ASSISTANT_/OPENAI_ variables."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.upper().startswith(("ASSISTANT_", "OPENAI_")):
            monkeypatch.delenv(name)


def test_every_field_belongs_to_exactly_one_section():
    owners: dict[str, list[str]] = {}
    for name, cls in SECTIONS.items():
        for field in cls.model_fields:
            owners.setdefault(field, []).append(name)
    assert {f: o for f, o in owners.items() if len(o) != 1} == {}
    assert set(owners) == set(Settings.model_fields)


def test_a_section_is_a_frozen_view_of_the_flat_fields():
    s = Settings(top_k=5, chat_port=9000, embed_batch_size=8)
    assert s.retrieval.top_k == 5 and s.chat.chat_port == 9000 and s.embed.embed_batch_size == 8
    assert set(type(s.llm).model_fields) == set(SECTIONS["llm"].model_fields)
    assert s.index.corpus == s.corpus and s.chroma.chroma_url is None and s.answer.max_sentences == 3
    with pytest.raises(ValidationError):  # frozen
        s.retrieval.top_k = 3  # type: ignore[misc]
    # hashable values: a section can key a cache
    assert s.embed == Settings(embed_batch_size=8).embed and hash(s.embed) == hash(Settings(embed_batch_size=8).embed)
    assert s.llm.use_llm() is s.use_llm() is False


def test_key_follows_only_the_sections_named():
    base = Settings()
    engine = ("index", "chroma", "embed", "retrieval")
    assert base.key(*engine) == Settings().key(*engine)
    assert base.with_options(chat_port=9000, max_sentences=5).key(*engine) == base.key(*engine)
    for change in ({"top_k": 3}, {"chunk_size": 300}, {"chroma_prefix": "x"}, {"embed_backend": "openai"}):
        assert base.with_options(**change).key(*engine) != base.key(*engine), change
    assert base.key("llm") != base.with_options(openai_api_key="sk-secret").key("llm")
    assert "sk-secret" not in base.with_options(openai_api_key="sk-secret").key()
    with pytest.raises(KeyError):
        base.key("nope")


def test_key_is_stable_across_processes():
    code = "from assistant.settings import Settings; print(Settings(top_k=4).key('retrieval', 'embed'))"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == Settings(top_k=4).key("retrieval", "embed")


def test_the_shipped_profiles():
    assert profiles() == ["chroma-server", "fast", "offline", "ollama", "openai", "test"]
    for name in profiles():
        assert data_path("profiles", f"{name}.toml").is_file()
    ollama = Settings(profile="ollama")
    assert ollama.openai_base_url == "http://127.0.0.1:11434/v1" and ollama.backend == "llm" and ollama.llm_model
    assert ollama.use_llm()
    assert Settings(profile="openai").backend == "llm"
    assert Settings(profile="chroma-server").chroma_url == "http://127.0.0.1:8000"
    offline = Settings(profile="offline", openai_api_key="sk-x")
    assert offline.backend == "offline" and not offline.use_llm()
    assert Settings().backend == "auto" and Settings().chroma_url is None and Settings().profile is None
    assert Settings(profile="").profile is None


def test_a_profile_is_below_the_environment_and_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("ASSISTANT_PROFILE", "ollama")
    s = Settings()
    assert s.profile == "ollama" and s.llm_model == "llama3.1" and s.backend == "llm"
    (tmp_path / "assistant.toml").write_text('llm_model = "from-file"\ntop_k = 4\n', encoding="utf-8")
    s = Settings()
    assert s.llm_model == "from-file" and s.openai_base_url == "http://127.0.0.1:11434/v1" and s.top_k == 4
    monkeypatch.setenv("ASSISTANT_LLM_MODEL", "from-env")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    s = Settings()
    assert s.llm_model == "from-env" and s.openai_base_url == "http://127.0.0.1:9/v1"
    assert Settings(llm_model="from-code").llm_model == "from-code"


def test_a_profile_named_in_the_file(tmp_path):
    (tmp_path / "assistant.toml").write_text('profile = "chroma-server"\nchroma_prefix = "p"\n', encoding="utf-8")
    s = Settings()
    assert s.profile == "chroma-server" and s.chroma_url == "http://127.0.0.1:8000" and s.chroma_prefix == "p"


def test_an_unknown_profile_is_one_line_naming_the_known_ones(tmp_path, monkeypatch):
    known = "must be one of 'chroma-server', 'fast', 'offline', 'ollama', 'openai', 'test'"
    with pytest.raises(SettingsError) as e:
        Settings(profile="olama")
    assert str(e.value) == f"profile='olama' is not valid: {known}"
    (tmp_path / "assistant.toml").write_text('profile = "cloud"\n', encoding="utf-8")
    with pytest.raises(SettingsError) as e:
        Settings()
    assert str(e.value) == f"profile = 'cloud' in assistant.toml is not valid: {known}"
    monkeypatch.setenv("ASSISTANT_PROFILE", "nope")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ASSISTANT_INDEX_DIR": str(tmp_path / "no-index")}
    r = subprocess.run([sys.executable, "-m", "assistant.apps.cli", "ask", "q"], capture_output=True, env=env)
    assert r.returncode == 2
    assert r.stderr.decode().strip() == f"error: ASSISTANT_PROFILE='nope' is not valid: {known}"
    assert not (tmp_path / "no-index").exists()


def test_importing_assistant_leaves_the_environment_alone():
    code = "import os; before = dict(os.environ); import assistant; print(dict(os.environ) == before)"
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "GRADIO_ANALYTICS_ENABLED")}
    env["PYTHONPATH"] = str(ROOT)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "True"


def test_offline_env_sets_defaults_without_overriding():
    code = (
        "import os; from assistant.resources import offline_env; offline_env(); "
        "print(os.environ['HF_HUB_OFFLINE'], os.environ['GRADIO_ANALYTICS_ENABLED'], os.environ['TOKENIZERS_PARALLELISM'])"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "GRADIO_ANALYTICS_ENABLED")}
    env.update(PYTHONPATH=str(ROOT), TOKENIZERS_PARALLELISM="true")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split() == ["1", "False", "true"]


def test_the_chat_page_turns_gradio_analytics_off_before_gradio_loads(tmp_path):
    # A stand-in gradio reports the variable at its first use, and stops
    # there; no example questions, so no engine (whose embedder sets it too).
    code = """
import os, sys, types
class Stop(Exception):
    pass
def first_use(name):
    raise Stop(os.environ.get("GRADIO_ANALYTICS_ENABLED"))
stub = types.ModuleType("gradio")
stub.__getattr__ = first_use
sys.modules["gradio"] = stub
import assistant.api
assistant.api.example_questions = lambda *a, **k: []
from assistant.apps.chat import launch
from assistant.settings import Settings
try:
    launch(Settings(corpus=sys.argv[1], index_dir=sys.argv[2]))
except Stop as e:
    print(e)
"""
    env = {k: v for k, v in os.environ.items() if k != "GRADIO_ANALYTICS_ENABLED"}
    env["PYTHONPATH"] = str(ROOT)
    args = [sys.executable, "-c", code, str(tmp_path / "no-corpus"), str(tmp_path / "no-index")]
    out = subprocess.run(args, capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "False"
    assert not (tmp_path / "no-index").exists()
