"""Downloading published weights, only when asked: progress, the file's SHA-256 checked against the prefix in
its name, written atomically into the torch hub cache, and a bounded wait on a bad or missing network.

A failed, interrupted or mismatched download never leaves a file under the final name: bytes go to a
``.part`` file beside it, which is renamed only once its hash is right (and removed otherwise).
"""
from __future__ import annotations

import hashlib
import os
import re
import socket
import urllib.error
import urllib.request
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Callable

from . import presets
from .presets import WeightsInfo
from .weights import CheckpointError, hub_checkpoint_dir

BASE_URL_ENV = "RESNET_EXPLORER_WEIGHTS_URL"  # another mirror (the tests use a server on 127.0.0.1)
TIMEOUT_S = 15.0  # to connect, and for any one read: a stalled server is given up on after this long
CHUNK = 1 << 20
Progress = Callable[[int, "int | None"], None]  # (bytes so far, total bytes if the server said)


class DownloadError(CheckpointError):
    """A download that did not produce a verified file; the message says why, in one line."""


def base_url() -> str:
    url = os.environ.get(BASE_URL_ENV) or presets.DOWNLOAD_ROOT
    return url if url.endswith("/") else url + "/"


def expected_hash_prefix(filename: str) -> str | None:
    """torchvision's file names carry the first hex digits of the file's SHA-256 (``resnet50-11ad3fa6.pth``)."""
    m = re.search(r"-([0-9a-f]{8,})\.", filename)
    return m.group(1) if m else None


class _SameHost(urllib.request.HTTPRedirectHandler):
    """Redirects are followed on the weights host only: a mirror cannot send the client to another machine
    (127.0.0.1, say)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl) -> urllib.request.Request | None:  # noqa: ANN001 - urllib's signature
        if _host(newurl) != _host(req.full_url):
            raise DownloadError(f"{_host(req.full_url)} redirected to another host ({_host(newurl)}); not followed")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_SameHost)
SLACK = 1 << 20  # a checkpoint's pickle and zip index beyond its tensors' bytes (a few KiB; a MiB of margin)


def download(info: WeightsInfo, progress: Progress | None = None, timeout: float = TIMEOUT_S,
             folder: Path | None = None, url: str | None = None) -> Path:
    """Fetch ``info``'s file into the hub cache (or ``folder``) and return its path; DownloadError otherwise.
    A file already there is returned as it is. No more than the file's expected size is read."""
    if not (isinstance(timeout, (int, float)) and 0 < timeout < float("inf")):
        raise DownloadError(f"the timeout must be a positive number of seconds, got {timeout!r}")
    folder = hub_checkpoint_dir() if folder is None else Path(folder)
    target = folder / info.filename
    if target.is_file():
        return target
    url = url or base_url() + info.filename
    folder.mkdir(parents=True, exist_ok=True)
    part = folder / f".{info.filename}.{uuid.uuid4().hex[:8]}.part"
    digest = hashlib.sha256()
    try:
        limit = state_size(info.arch) + SLACK
        with _OPENER.open(url, timeout=timeout) as response, part.open("wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            if total is not None and total > limit:
                raise DownloadError(f"{_host(url)} announced {total:,} bytes for {info.filename}, more than it can be "
                                    f"({limit:,}); nothing was kept")
            done = 0
            while chunk := response.read(min(CHUNK, limit + 1 - done)):
                if done + len(chunk) > limit:
                    raise DownloadError(f"{_host(url)} sent more than {info.filename} can be ({limit:,} bytes); "
                                        "nothing was kept")
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
        if total is not None and done != total:
            raise DownloadError(f"download of {info.filename} stopped after {done:,} of {total:,} bytes")
        want = expected_hash_prefix(info.filename)
        if want and not digest.hexdigest().startswith(want):
            raise DownloadError(f"download of {info.filename} is corrupt: its SHA-256 starts "
                                f"{digest.hexdigest()[:len(want)]}, the file name says {want}; nothing was kept")
        os.replace(part, target)
        return target
    except DownloadError:
        raise
    except (socket.timeout, TimeoutError):
        raise DownloadError(f"no answer from {_host(url)} within {timeout:g} s (offline, or the server stalled); "
                            "nothing was kept") from None
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"{_host(url)} answered {exc.code} {exc.reason} for {info.filename}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, (socket.timeout, TimeoutError)):
            raise DownloadError(f"no answer from {_host(url)} within {timeout:g} s (offline, or the server "
                                "stalled); nothing was kept") from None
        raise DownloadError(f"cannot reach {_host(url)} ({getattr(reason, 'strerror', None) or reason}); "
                            "nothing was kept") from None
    finally:
        part.unlink(missing_ok=True)


@lru_cache(maxsize=None)
def state_size(arch: str) -> int:
    """Bytes of a preset's state dict in fp32: what its checkpoint file holds, within a few KiB."""
    from .model import build
    from .presets import get_preset

    state = build(get_preset(arch), device="meta", init_weights=False).state_dict()
    return sum(t.numel() * t.element_size() for t in state.values())


def _host(url: str) -> str:
    m = re.match(r"^\w+://([^/]+)", url)
    return m.group(1) if m else url


__all__ = ["BASE_URL_ENV", "DownloadError", "TIMEOUT_S", "base_url", "download", "expected_hash_prefix", "state_size"]
