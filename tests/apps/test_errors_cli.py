"""What the user sees when something is wrong: one line on stderr and the
documented exit code (2 bad question or setting, 3 corpus, 4 index, 1 a bug),
from a real `assistant` process."""

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from assistant import answer
from assistant.errors import AssistantError, SettingsError
from assistant.settings import Settings

from conftest import ROOT
from servers import free_port


def run(*args, env_extra=None, input=None, cwd=None, timeout=120, code=None):
    """The CLI (or `code`, a script calling its main()) with PYTHONPATH set,
    so that it runs from any folder."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONPATH": path, **(env_extra or {})}
    cmd = [sys.executable, "-c", code, *args] if code else [sys.executable, "-m", "assistant.apps.cli", *args]
    return subprocess.run(cmd, capture_output=True, env=env, input=input, cwd=cwd, timeout=timeout)


def one_line(r) -> str:
    """stderr, which must be exactly one line."""
    err = r.stderr.decode()
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err and "pydantic" not in err
    return err.strip()


@pytest.fixture
def nothing(tmp_path):
    """A corpus and index that do not exist: any error here comes before they are read."""
    return {"ASSISTANT_CORPUS": str(tmp_path / "no-corpus"), "ASSISTANT_INDEX_DIR": str(tmp_path / "no-index")}


# --- 1. settings ---------------------------------------------------------------

BAD_SETTINGS = [
    (["ask", "--top-k", "0", "q"], {}, "--top-k 0 is not valid: must be an integer from 1 to 50"),
    (["ask", "--top-k", "-1", "q"], {}, "--top-k -1 is not valid: must be an integer from 1 to 50"),
    (["ask", "--top-k", "1000", "q"], {}, "--top-k 1000 is not valid: must be an integer from 1 to 50"),
    (["eval", "--top-k", "0"], {}, "--top-k 0 is not valid: must be an integer from 1 to 50"),
    (["ask", "q"], {"ASSISTANT_TOP_K": "abc"}, "ASSISTANT_TOP_K='abc' is not valid: must be an integer from 1 to 50"),
    (["ask", "q"], {"ASSISTANT_CHUNK_SIZE": "5"}, "ASSISTANT_CHUNK_SIZE='5' is not valid: must be an integer from 32 to 2048"),
    (["index"], {"ASSISTANT_BACKEND": "bogus"}, "ASSISTANT_BACKEND='bogus' is not valid: must be one of 'auto', 'offline', 'llm'"),
    (["ask", "q"], {"ASSISTANT_MAX_QUESTION_CHARS": "5"}, "ASSISTANT_MAX_QUESTION_CHARS='5' is not valid: must be an integer of at least 10"),
    (["chat"], {"ASSISTANT_CHAT_PORT": "99999"}, "ASSISTANT_CHAT_PORT='99999' is not valid: must be an integer from 1 to 65535"),
    (["ask", "q"], {"ASSISTANT_CHAT_SHARE": "maybe"}, "ASSISTANT_CHAT_SHARE='maybe' is not valid: must be true or false"),
    (["ask", "q"], {"ASSISTANT_FILE_TYPES": ".txt"}, "ASSISTANT_FILE_TYPES='.txt' is not valid: must be a JSON list, e.g. [\".txt\", \".md\"]"),
]  # fmt: skip


@pytest.mark.parametrize(
    "args, env, message", BAD_SETTINGS, ids=[f"{a[0]} {m.split(' is')[0]}" for a, _, m in BAD_SETTINGS]
)
def test_a_bad_setting_is_one_line_naming_it(args, env, message, nothing, tmp_path):
    r = run(*args, env_extra={**nothing, **env})
    assert r.returncode == 2
    assert one_line(r) == f"error: {message}"
    # said before anything is made: no index folder left behind
    assert not Path(nothing["ASSISTANT_INDEX_DIR"]).exists()
    assert not (tmp_path / "no-index").exists()


UNKNOWN_COMPONENTS = [
    (["index"], {"ASSISTANT_EMBED_BACKEND": "nope"}, "unknown embedder 'nope' (ASSISTANT_EMBED_BACKEND); known: local, openai, hash, static, or package.module:Class"),
    (["ask", "q"], {"ASSISTANT_VECTOR_STORE": "nope"}, "unknown vector store 'nope' (ASSISTANT_VECTOR_STORE); known: chroma, memory, or package.module:Class"),
    (["ask", "q"], {"ASSISTANT_EMBED_BACKEND": "no_such_pkg:Embedder"}, "ASSISTANT_EMBED_BACKEND='no_such_pkg:Embedder': cannot import 'no_such_pkg' (No module named 'no_such_pkg')"),
]  # fmt: skip


@pytest.mark.parametrize("args, env, message", UNKNOWN_COMPONENTS, ids=["embedder", "store", "dotted-path"])
def test_an_unknown_component_is_one_line_from_its_registry(args, env, message, nothing):
    """A component setting is a registered name or package.module:Class; the
    registry says which are known when the component is built."""
    r = run(*args, env_extra={**nothing, **env})
    assert r.returncode == 2
    assert one_line(r) == f"error: {message}"
    # said before anything is made: no index folder left behind
    assert not Path(nothing["ASSISTANT_INDEX_DIR"]).exists()


def test_a_bad_setting_in_assistant_toml_names_the_key_and_the_file(nothing, tmp_path):
    (tmp_path / "assistant.toml").write_text('top_k = "abc"\nchunk_size = 5\nbackend = "offline"\n', encoding="utf-8")
    r = run("ask", "q", env_extra=nothing, cwd=tmp_path)
    assert r.returncode == 2
    assert one_line(r) == (
        "error: chunk_size = 5 in assistant.toml is not valid: must be an integer from 32 to 2048; "
        "top_k = 'abc' in assistant.toml is not valid: must be an integer from 1 to 50"
    )
    (tmp_path / "assistant.toml").write_text("top_k = \n", encoding="utf-8")
    r = run("ask", "q", env_extra=nothing, cwd=tmp_path)
    assert r.returncode == 2 and one_line(r).startswith("error: assistant.toml is not valid TOML: ")
    # the environment wins over the file, and is what is named
    (tmp_path / "assistant.toml").write_text("chat_port = 80000\n", encoding="utf-8")
    r = run("chat", env_extra={**nothing, "ASSISTANT_CHAT_PORT": "0"}, cwd=tmp_path)
    assert one_line(r) == "error: ASSISTANT_CHAT_PORT='0' is not valid: must be an integer from 1 to 65535"


def test_the_python_api_raises_a_readable_settings_error(monkeypatch):
    with pytest.raises(SettingsError) as e:
        answer("What tariff did Trump threaten?", top_k=0)
    assert str(e.value) == "top_k=0 is not valid: must be an integer from 1 to 50"
    assert isinstance(e.value, AssistantError) and e.value.exit_code == 2
    with pytest.raises(SettingsError, match=r"^backend='x' is not valid: must be one of 'auto', 'offline', 'llm'$"):
        Settings(backend="x")
    monkeypatch.setenv("ASSISTANT_LLM_TEMPERATURE", "hot")
    with pytest.raises(
        SettingsError, match=r"^ASSISTANT_LLM_TEMPERATURE='hot' is not valid: must be a number from 0.0 to 2.0$"
    ):
        Settings()


# --- 2. the chat page's address and login, checked before anything loads -----


def test_chat_port_out_of_range(nothing, tmp_path):
    r = run("chat", "--port", "70000", env_extra=nothing)
    assert r.returncode == 2
    assert one_line(r) == "error: --port 70000 is not valid: must be an integer from 1 to 65535"


def test_chat_on_a_port_in_use(nothing, tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = run("chat", "--port", str(port), env_extra=nothing)
        assert r.returncode == 2
        assert one_line(r) == (
            f"error: --port {port} is not available: 127.0.0.1:{port} is already in use; "
            "stop what listens there or choose another port"
        )
        r = run("chat", env_extra={**nothing, "ASSISTANT_CHAT_PORT": str(port)})
        assert r.returncode == 2 and one_line(r).startswith(f"error: ASSISTANT_CHAT_PORT {port} is not available")
    assert not (tmp_path / "no-index").exists()


def test_chat_auth_without_a_colon_is_named_and_not_echoed(nothing, tmp_path):
    for value in ("alice", "alice:", ":s3cret", "alice:s3cret,bob", "alice:s3cret,alice:other"):
        r = run("chat", "--port", str(free_port()), env_extra={**nothing, "ASSISTANT_CHAT_AUTH": value})
        assert r.returncode == 2
        assert (
            one_line(r)
            == "error: ASSISTANT_CHAT_AUTH (value not shown) is not valid: must be user:password (both non-empty), "
            "or several separated by commas, each user once"
        )
        assert "alice" not in r.stderr.decode() and "s3cret" not in r.stderr.decode()
    assert not (tmp_path / "no-index").exists()


def test_chat_host_that_is_not_here(nothing, tmp_path):
    r = run("chat", "--host", "192.0.2.1", "--port", str(free_port()), env_extra=nothing)  # TEST-NET-1
    assert r.returncode == 2
    assert one_line(r).startswith("error: --host '192.0.2.1' is not valid: cannot listen there")


# --- 3. a page reachable from the network without a login ---------------------


@contextmanager
def chat_on_all_interfaces(settings, **extra_env):
    """`assistant chat --host 0.0.0.0` until it serves (asked on 127.0.0.1 only); yields its stderr so far."""
    port = free_port()
    env = {
        **os.environ,
        "ASSISTANT_CORPUS": str(settings.corpus),
        "ASSISTANT_INDEX_DIR": str(settings.index_dir),
        **extra_env,
    }
    cmd = [sys.executable, "-m", "assistant.apps.cli", "chat", "--host", "0.0.0.0", "--port", str(port)]
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
                    break
                except urllib.error.HTTPError:  # behind a login: it answers
                    break
                except OSError:
                    assert proc.poll() is None and time.monotonic() < deadline, "chat did not start"
                    time.sleep(0.2)
            err.seek(0)
            yield err.read().decode()
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def test_listening_on_the_network_without_a_login_warns(seeds_settings):
    with chat_on_all_interfaces(seeds_settings) as stderr:
        warnings = [line for line in stderr.splitlines() if line.startswith("warning:")]
        assert len(warnings) == 1, stderr
        assert "0.0.0.0" in warnings[0] and "no login" in warnings[0] and "ASSISTANT_CHAT_AUTH" in warnings[0]
    with chat_on_all_interfaces(seeds_settings, ASSISTANT_CHAT_AUTH="ana:secret") as stderr:
        assert "warning:" not in stderr, stderr


# --- 4. bytes that are not UTF-8 ------------------------------------------------


def test_question_argument_that_is_not_utf8(nothing):
    r = run("ask", "--", "What tariff \udcff did Trump threaten?", env_extra=nothing)  # the byte 0xff
    assert r.returncode == 2
    assert one_line(r) == "error: The question is not valid UTF-8 text; retype it or check the terminal's encoding."


@pytest.mark.parametrize("stdin", ["utf-8", "utf-8:surrogateescape"])
def test_interactive_question_that_is_not_utf8_and_the_session_goes_on(seeds_settings, stdin):
    env = {
        "ASSISTANT_CORPUS": str(seeds_settings.corpus),
        "ASSISTANT_INDEX_DIR": str(seeds_settings.index_dir),
        "PYTHONIOENCODING": stdin,  # "utf-8": decoded strictly
    }
    r = run("ask", env_extra=env, input=b"What tariff \xff did Trump threaten?\nWhat tariff did Trump threaten?\n\n")
    assert r.returncode == 0
    assert one_line(r) == "error: The question is not valid UTF-8 text; retype it or check the terminal's encoding."
    assert r.stdout.decode().count("Sources:") == 1


# --- 5. anything else: one line, exit 1, the traceback on demand ----------------

BUG = """
import sys
import assistant.apps.cli as cli
from assistant.errors import IndexStoreError

def fail(args):
    raise {exc}

cli.cmd_ask = fail
sys.exit(cli.main(sys.argv[1:]))
"""


def test_an_unexpected_error_is_one_line_with_exit_1(nothing):
    code = BUG.format(exc='RuntimeError("the store said\\nno")')
    r = run("ask", "q", code=code, env_extra=nothing)
    assert r.returncode == 1
    assert (
        one_line(r)
        == "error: internal error: RuntimeError: the store said no (set ASSISTANT_DEBUG=1 for the traceback)"
    )
    r = run("ask", "q", code=code, env_extra={**nothing, "ASSISTANT_DEBUG": "1"})
    assert r.returncode == 1
    err = r.stderr.decode()
    assert err.startswith("Traceback") and ", in fail\n" in err
    assert err.splitlines()[-1] == "error: internal error: RuntimeError: the store said no"


def test_an_assistant_error_from_anywhere_is_one_line_with_its_exit_code(nothing):
    r = run("ask", "q", code=BUG.format(exc='IndexStoreError("the index is\\nbroken")'), env_extra=nothing)
    assert r.returncode == 4
    assert one_line(r) == "error: the index is broken"


def test_interactive_session_goes_on_after_an_unexpected_error(nothing):
    code = """
import sys
import assistant.apps.cli as cli

def ask_once(question, history, opts, as_json):
    raise ZeroDivisionError("division by zero")

cli._ask_once = ask_once
sys.exit(cli.main(sys.argv[1:]))
"""
    Path(nothing["ASSISTANT_CORPUS"]).mkdir()  # a missing corpus would end the session before the first question
    r = run("ask", code=code, env_extra=nothing, input=b"first?\nsecond?\n\n")
    assert r.returncode == 0
    err = r.stderr.decode()
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert (
        lines
        == ["error: internal error: ZeroDivisionError: division by zero (set ASSISTANT_DEBUG=1 for the traceback)"] * 2
    ), err


def test_ask_with_a_missing_corpus_says_so_before_offering_to_build(nothing):
    r = run("ask", "q", env_extra=nothing)
    assert r.returncode == 3
    assert "building it now" not in r.stderr.decode()
    assert one_line(r).startswith("error: Corpus folder not found:")


def test_a_damaged_index_with_no_corpus_to_rebuild_it_from_is_an_index_error(tmp_path):
    """F13: exit 4 (the index), not 3: the README's "cannot be rebuilt (no corpus)"."""
    import shutil

    from assistant import build_index
    from assistant.errors import IndexStoreError

    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(ROOT / "seeds", corpus)
    build_index(corpus=corpus, index_dir=index)
    shutil.rmtree(corpus)
    where = ["--corpus", str(corpus), "--index-dir", str(index)]
    (index / "chroma" / "chroma.sqlite3").write_bytes(b"")  # the store emptied
    r = run("ask", "How much is Seoul expected to invest in the US?", *where)
    assert r.returncode == 4, r.stderr
    assert (
        one_line(r)
        == f"error: the index in {index} is damaged and cannot be rebuilt: corpus folder not found: {corpus}"
    )
    with pytest.raises(IndexStoreError, match="is damaged and cannot be rebuilt"):  # the API says the same
        answer("How much is Seoul expected to invest in the US?", corpus=corpus, index_dir=index)
    (index / "manifest.json").write_text("{not json", encoding="utf-8")  # the manifest unreadable
    r = run("ask", "How much is Seoul expected to invest in the US?", *where)
    assert r.returncode == 4 and "is corrupt and cannot be rebuilt" in one_line(r)
