"""The one registry shape (assistant/registry.py): names, dotted paths, and a
factory that sees only its own settings sections."""

from __future__ import annotations

import pytest

from assistant.errors import SettingsError
from assistant.registry import Registry
from assistant.settings import RetrievalSettings, Settings


class Probe:
    sections = ("retrieval",)

    def __init__(self, retrieval, *extra):
        self.retrieval, self.extra = retrieval, extra


def test_a_factory_gets_only_its_own_sections_and_the_callers_extras():
    reg: Registry[Probe] = Registry("probe", "ASSISTANT_PROBE")
    reg.register("probe", Probe, "retrieval")
    built = reg.build("probe", Settings(top_k=5), "extra")
    assert isinstance(built.retrieval, RetrievalSettings) and built.retrieval.top_k == 5
    assert not hasattr(built.retrieval, "chunk_size")  # the index section is not in reach
    assert built.extra == ("extra",)
    # the key follows the section's values, and only them
    assert reg.key("probe", Settings(top_k=5)) != reg.key("probe", Settings(top_k=6))
    assert reg.key("probe", Settings(top_k=5)) == reg.key("probe", Settings(top_k=5, chunk_size=300))


def test_a_dotted_path_plugs_in_a_class_from_outside_the_registry():
    reg: Registry[Probe] = Registry("probe", "ASSISTANT_PROBE")
    built = reg.build(f"{__name__}:Probe", Settings(top_k=7))
    assert isinstance(built, Probe) and built.retrieval.top_k == 7
    assert f"{__name__}:Probe" in reg and "nothing" not in reg


@pytest.mark.parametrize(
    "name, words",
    [
        ("nothing", "unknown probe 'nothing' (ASSISTANT_PROBE); known: probe"),
        ("no_such_module_xyz:Thing", "cannot import 'no_such_module_xyz'"),
        (f"{__name__}:Missing", "has no 'Missing'"),
    ],
)
def test_a_bad_name_is_a_one_line_settings_error(name, words):
    reg: Registry[Probe] = Registry("probe", "ASSISTANT_PROBE")
    reg.register("probe", Probe, "retrieval")
    with pytest.raises(SettingsError) as e:
        reg.build(name, Settings())
    assert words in str(e.value) and "\n" not in str(e.value)


# --- the components chosen through it: embedders, vector stores, rerankers, LLM providers


class FakeEmbedder:
    """An embedder of one's own, plugged in by dotted path (`embed_backend`)."""

    sections = ("embed", "llm")
    id = "fake-3"
    dim = 3

    def __init__(self, embed, llm):
        self.batch_size, self.url = embed.embed_batch_size, llm.openai_base_url

    def embed(self, texts):
        import numpy as np

        return np.tile(np.float32([1, 0, 0]), (len(texts), 1))

    def worker(self):
        return None


def test_every_component_registry_has_the_one_shape_and_names_its_sections():
    """No component is built from the whole settings: each registered one
    names the sections it takes."""
    from assistant.embedders.registry import EMBEDDERS
    from assistant.llms.registry import PROVIDERS
    from assistant.reader.registry import RERANKERS
    from assistant.settings import SECTIONS
    from assistant.stores.backends import BACKENDS

    expected = {
        (EMBEDDERS, "ASSISTANT_EMBED_BACKEND"): {"local": ("embed",), "openai": ("embed", "llm"), "hash": ("embed",), "static": ("embed",)},
        (BACKENDS, "ASSISTANT_VECTOR_STORE"): {"chroma": ("chroma", "index"), "memory": ("index",)},
        (RERANKERS, "ASSISTANT_RERANKER"): {"reader": ("answer",)},
        (PROVIDERS, "ASSISTANT_LLM_PROVIDER"): {"openai": ("llm",)},
    }
    for (registry, setting), names in expected.items():
        assert isinstance(registry, Registry) and registry.setting == setting
        assert {n: registry.entry(n).sections for n in registry.names()} == names
        assert all(set(s) <= set(SECTIONS) for s in names.values())


def test_a_dotted_path_embedder_is_built_through_the_real_settings(monkeypatch, tmp_path):
    from assistant.embedders import Embedder, get_embedder
    from assistant.engine import engine_key

    path = f"{__name__}:FakeEmbedder"
    s = Settings(corpus=tmp_path, embed_backend=path, embed_batch_size=5, openai_base_url="http://127.0.0.1:1/v1")
    embedder = get_embedder(s)
    assert isinstance(embedder, FakeEmbedder) and isinstance(embedder, Embedder)
    assert (embedder.batch_size, embedder.url) == (5, "http://127.0.0.1:1/v1")  # its two sections, nothing else
    # the engine cache follows the sections it declared (llm here), not only the embed section
    assert engine_key(s) != engine_key(s.with_options(openai_base_url="http://127.0.0.1:2/v1"))
    assert engine_key(s) == engine_key(s.with_options(top_k=3))
    # the same through the environment, as a user would set it
    monkeypatch.setenv("ASSISTANT_EMBED_BACKEND", path)
    assert isinstance(get_embedder(Settings(corpus=tmp_path)), FakeEmbedder)


@pytest.mark.parametrize(
    "value, message",
    [
        ("nope", "unknown embedder 'nope' (ASSISTANT_EMBED_BACKEND); known: local, openai, hash, static, or package.module:Class"),
        ("no_such_module_xyz:Embedder", "ASSISTANT_EMBED_BACKEND='no_such_module_xyz:Embedder': cannot import"),
    ],
)
def test_an_unknown_embedder_is_a_one_line_settings_error(value, message, tmp_path):
    from assistant.embedders import get_embedder
    from assistant.engine import engine_key

    s = Settings(corpus=tmp_path, embed_backend=value)  # well-formed: the registry judges the name
    for build in (get_embedder, engine_key):
        with pytest.raises(SettingsError) as e:
            build(s)
        assert str(e.value).startswith(message) and "\n" not in str(e.value)


def test_a_malformed_component_name_fails_with_the_settings():
    for field in ("embed_backend", "vector_store", "reranker", "refine_embed_backend", "llm_provider"):
        with pytest.raises(SettingsError, match=f"^{field}='a b' is not valid"):
            Settings(**{field: "a b"})
