"""Every way a server can fail ends in one UserError line; what streamed before is kept.

Only "a web server that is not llama-server" and "a server that never answers" are played by
small servers of our own; everything else is the real llama-server.
"""

from __future__ import annotations

import http.server
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from llama_servers import free_port

from baichuan_tui.engine.prompts import Message
from baichuan_tui.engine.sampling import Sampling
from baichuan_tui.errors import UserError
from baichuan_tui.server.client import Address, ServerError, ServerGone, transport_warning
from baichuan_tui.server.engine import ServerEngine

LONG = Sampling(temperature=0.0, repeat_penalty=1.0, max_tokens=900)


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert isinstance(exc, UserError)
    assert "\n" not in text and text
    return text


def test_nothing_listening():
    with pytest.raises(ServerError) as err:
        ServerEngine(f"http://127.0.0.1:{free_port()}")
    assert "nothing is listening at http://127.0.0.1:" in one_line(err.value)


def test_a_host_name_that_does_not_resolve():
    with pytest.raises(ServerError) as err:
        ServerEngine("http://no-such-host.invalid:8080", timeout=5)
    assert "cannot resolve the server's host name 'no-such-host.invalid'" in one_line(err.value)


def test_a_bad_url():
    with pytest.raises(ServerError) as err:
        ServerEngine("ftp://example.org")
    assert "not a server URL" in one_line(err.value)


@pytest.fixture
def web_server() -> Iterator[str]:
    """A plain web server: a page at /, 404 elsewhere."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            if self.path == "/":
                body = b"<html><body>hello</body></html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:
                self.send_error(404)

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_a_web_server_that_is_not_llama_server(web_server):
    with pytest.raises(ServerError) as err:
        ServerEngine(web_server)
    assert one_line(err.value).startswith(f"{web_server} is not a llama-server")


def test_a_server_that_never_answers():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        start = time.monotonic()
        with pytest.raises(ServerError) as err:
            ServerEngine(f"http://127.0.0.1:{port}", timeout=0.5)
        assert time.monotonic() - start < 5
    assert "did not answer within 0.5 s" in one_line(err.value)


def test_plain_http_to_another_host_gets_a_warning():
    assert transport_warning(Address.parse("http://127.0.0.1:8080")) is None
    assert transport_warning(Address.parse("localhost:8080")) is None
    assert transport_warning(Address.parse("https://lab.example:8443")) is None
    warning = transport_warning(Address.parse("lab.example:8080"))
    assert warning is not None and "unencrypted" in warning and "\n" not in warning


def test_an_api_key_is_sent_and_never_shown(tiny, launch):
    key = "s3cret-key-for-tests"
    server = launch(tiny("b2-7b-chat"), extra=["--api-key", key])
    with pytest.raises(ServerError) as err:
        ServerEngine(server.url)
    text = one_line(err.value)
    assert "401" in text and key not in text
    with pytest.raises(ServerError) as err:
        ServerEngine(server.url, api_key="wrong")
    assert "401" in one_line(err.value) and "wrong" not in str(err.value)
    engine = ServerEngine(server.url, api_key=key)
    assert key not in repr(engine.client) and key not in repr(vars(engine.client))
    res = engine.generate(engine.prompt([Message("user", "hi")], max_tokens=4), LONG).wait()
    assert res.completion_tokens > 0


def test_all_slots_busy(tiny, launch):
    server = launch(tiny("b2-7b-chat"), slots=1)
    first, second = ServerEngine(server.url), ServerEngine(server.url)
    prompt = first.prompt([Message("user", "long")], max_tokens=900)
    gen = first.generate(prompt, LONG, ignore_eos=True)
    next(iter(gen))
    busy = second.generate(prompt, LONG)
    with pytest.raises(ServerError) as err:
        busy.wait()
    assert "all 1 slot(s) of" in one_line(err.value) and "busy" in str(err.value)
    gen.cancel()
    gen.wait()


def test_a_server_killed_mid_reply(tiny, launch):
    server = launch(tiny("b2-7b-chat"))
    engine = ServerEngine(server.url)
    prompt = engine.prompt([Message("user", "killed")], max_tokens=900)
    gen = engine.generate(prompt, LONG, ignore_eos=True)
    got = []
    with pytest.raises(ServerGone) as err:
        for chunk in gen:
            got.append(chunk)
            if len(got) == 3:
                os.kill(server.proc.pid, signal.SIGKILL)
    assert "closed the connection in the middle of the reply" in one_line(err.value)
    res = gen.result
    assert res is not None and res.finish_reason == "error"
    assert res.text and res.text == "".join(got)
    assert 0 < res.completion_tokens < 900
    with pytest.raises(ServerError) as err:
        ServerEngine(server.url)
    assert "nothing is listening" in one_line(err.value)
