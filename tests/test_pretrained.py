"""Pretrained-model download against a local HTTP server on 127.0.0.1 serving a Google-layout
tarball made here."""

import http.server
import io
import os
import tarfile
import threading

import numpy as np
import pytest
from test_modeling import TINY_ALBERT

from albert import checkpoints, modeling, pretrained

from helpers import randomize_weights


def google_tarball(tmp_path):
    """albert_base/{albert_config.json, model.ckpt-best.*} like Google's tarballs (tiny model)."""
    model = modeling.create_pretraining_model(TINY_ALBERT)
    values = randomize_weights(model, seed=7)
    folder = tmp_path / "albert_base"
    checkpoints.save_google_checkpoint(model, str(folder / "model.ckpt-best"))
    TINY_ALBERT.to_json_file(folder / "albert_config.json")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(folder, arcname="albert_base")
    return buffer.getvalue(), values


class Server:
    """Serves `content` at /albert_base_v2.tar.gz; `truncate` sends only part of it."""

    def __init__(self, content: bytes):
        self.content, self.truncate, self.requests = content, False, 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests += 1
                if self.path != "/albert_base_v2.tar.gz":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(server.content)))
                self.end_headers()
                self.wfile.write(server.content[: len(server.content) // 2] if server.truncate else server.content)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(tmp_path, monkeypatch):
    content, values = google_tarball(tmp_path)
    s = Server(content)
    s.values = values
    monkeypatch.setenv("ALBERT_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("ALBERT_MODELS_URL", s.url)
    yield s
    s.close()


def test_download_cache_and_reuse(server, tmp_path):
    directory = pretrained.resolve("albert_base_v2")
    assert directory == str(tmp_path / "cache" / "albert_base_v2")
    assert {"albert_config.json", "model.ckpt-best.index"} <= set(os.listdir(directory))
    assert server.requests == 1
    assert pretrained.resolve("albert_base_v2") == directory and server.requests == 1  # cached
    leftovers = [p for p in os.listdir(tmp_path / "cache") if p != "albert_base_v2"]
    assert leftovers == []
    # usable by every script's --init_checkpoint: the name is enough
    model = modeling.create_pretraining_model(TINY_ALBERT)
    checkpoints.load_weights(model, "albert_base_v2")
    for v in model.weights:
        np.testing.assert_array_equal(v.numpy(), server.values[v.path].astype(np.float32))


def test_interrupted_download_leaves_nothing_usable(server, tmp_path):
    server.truncate = True
    with pytest.raises(pretrained.DownloadError) as err:
        pretrained.resolve("albert_base_v2")
    assert "stopped after" in str(err.value) and "\n" not in str(err.value)
    assert os.listdir(tmp_path / "cache") == []  # no partial archive, no half-extracted folder
    server.truncate = False
    assert os.path.isdir(pretrained.resolve("albert_base_v2"))


def test_offline_error_says_what_to_fetch_and_where(tmp_path, monkeypatch):
    monkeypatch.setenv("ALBERT_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("ALBERT_MODELS_URL", "http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(pretrained.DownloadError) as err:
        pretrained.resolve("albert_large_v1", timeout=5)
    message = str(err.value)
    assert "http://127.0.0.1:9/albert_large_v1.tar.gz" in message
    assert str(tmp_path / "cache" / "albert_large_v1") in message and "\n" not in message
    with pytest.raises(pretrained.DownloadError, match="unknown pretrained model 'albert_huge_v9'"):
        pretrained.resolve("albert_huge_v9")
