"""Google's released ALBERT models by name, downloaded once into a cache.

    >>> directory = resolve("albert_base_v2")   # ~/.cache/albert/albert_base_v2/
    >>> sorted(os.listdir(directory))
    ['30k-clean.model', '30k-clean.vocab', 'albert_config.json', 'model.ckpt-best.data-00000-of-00001', ...]

Names `albert_{base,large,xlarge,xxlarge}_{v1,v2}` resolve to Google's tarballs
(`https://storage.googleapis.com/albert_models/<name>.tar.gz`, as Google's ALBERT `README.md`
lists them). The cache is
`$ALBERT_HOME`, else `~/.cache/albert`; `$ALBERT_MODELS_URL` replaces the download site (a
mirror). A download goes to a temporary file, is extracted into a temporary directory, checked
(config readable, checkpoint present) and only then renamed into place: an interrupted or
corrupt download never leaves a usable-looking model behind.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request

from albert import configs
from albert.configs import ConfigError, load_config
from albert.progress import ProgressBar

SIZES = tuple(name for name, size in configs.SIZES.items() if size.released)  # the released sizes
NAMES = tuple(f"albert_{size}_{version}" for size in SIZES for version in ("v1", "v2"))
DEFAULT_URL = "https://storage.googleapis.com/albert_models"
REQUIRED_FILES = ("albert_config.json", "model.ckpt-best.index")


class DownloadError(RuntimeError):
    """A pretrained model could not be had; the message is one line and says what to do."""


def cache_dir() -> str:
    return os.environ.get("ALBERT_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "albert")


def url_of(name: str) -> str:
    return f"{os.environ.get('ALBERT_MODELS_URL', DEFAULT_URL).rstrip('/')}/{name}.tar.gz"


def _complete(directory: str) -> bool:
    return all(os.path.exists(os.path.join(directory, f)) for f in REQUIRED_FILES)


def resolve(name: str, timeout: float = 60.0) -> str:
    """The directory of pretrained model `name`, downloading and extracting it the first time."""
    if name not in NAMES:
        raise DownloadError(f"unknown pretrained model {name!r}; choose one of {', '.join(NAMES)}")
    directory = os.path.join(cache_dir(), name)
    if _complete(directory):
        return directory
    os.makedirs(cache_dir(), exist_ok=True)
    url = url_of(name)
    with tempfile.TemporaryDirectory(prefix=f".{name}.", dir=cache_dir()) as work:
        archive = os.path.join(work, f"{name}.tar.gz")
        try:
            _download(url, archive, timeout)
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise DownloadError(
                f"cannot download {url} ({reason}); fetch it elsewhere and extract it into {directory} "
                f"(files {', '.join(REQUIRED_FILES)}, model.ckpt-best.data-*), or pass a local path"
            ) from None
        extracted = os.path.join(work, "extracted")
        _extract(archive, extracted, url)
        if os.path.exists(directory):
            shutil.rmtree(directory)  # an incomplete leftover from an older tool
        os.replace(extracted, directory)
    return directory


def _download(url: str, path: str, timeout: float) -> None:
    with urllib.request.urlopen(url, timeout=timeout) as response, open(path, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0)
        progress = ProgressBar(total or 1, "bytes")
        done = 0
        while chunk := response.read(1 << 20):
            out.write(chunk)
            done += len(chunk)
            progress.update(done, done)
        progress.close()
    if total and done != total:
        raise OSError(f"the download stopped after {done} of {total} bytes")


def _extract(archive: str, target: str, url: str) -> None:
    """Extracts the tarball's files, dropping its top folder (`albert_base/…`), and checks them."""
    os.makedirs(target)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar.getmembers():
                parts = member.name.split("/", 1)
                if not member.isfile() or len(parts) < 2 or ".." in parts[1].split("/"):
                    continue
                member.name = parts[1]
                safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}  # Python >= 3.10.12
                tar.extract(member, target, **safe)
    except (tarfile.TarError, OSError, EOFError) as err:
        raise DownloadError(f"{url}: the archive is damaged ({err}); delete it and try again") from None
    missing = [f for f in REQUIRED_FILES if not os.path.exists(os.path.join(target, f))]
    if missing:
        raise DownloadError(f"{url}: the archive lacks {', '.join(missing)}; it is not one of Google's ALBERT models")
    try:
        load_config(os.path.join(target, "albert_config.json"))
    except ConfigError as err:
        raise DownloadError(f"{url}: {err}") from None


def resolve_checkpoint(name_or_path: str) -> str:
    """A checkpoint prefix for `--init_checkpoint`: a pretrained model's name becomes its cached
    `model.ckpt-best`; anything else is returned unchanged."""
    if name_or_path in NAMES and not os.path.exists(name_or_path):
        return os.path.join(resolve(name_or_path), "model.ckpt-best")
    return name_or_path
