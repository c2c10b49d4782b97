"""The channel page (Microscope's unit page): for a block and a channel, the picture the channel wants (feature
visualization), the check that comes with it, the channel over the current image, and its dataset examples when a
run of this model is open. Opening the page costs one timed step (to state what a picture will cost); the
optimisation runs only on request, with progress, and can be stopped."""
from __future__ import annotations

import threading
from typing import Any, NamedTuple

import gradio as gr

from .. import lib
from ..context import APP
from ..refusals import Refusal, titled
from .checks import capped, model_config, skipped, whole
from .dataset import dataset_channel, run_files
from .features import png_file

RANDOM = ("**random weights: the picture means nothing** (an untrained channel's; load trained weights in the "
          "Feature maps tab)")
SHOWN = 256  # a picture smaller than this is shown scaled up (each pixel a square)
_STOPS: dict[str, threading.Event] = {}
_KEPT: dict[str, Any] = {}  # "pictures": explorer.visualize.kept.Kept; "costs": seconds per step by model and size


class ChannelPage(NamedTuple):
    title: str
    picture: Any
    check: str
    map: Any
    examples: Any
    caption: str


class GridPick(NamedTuple):
    """A tile of the Feature maps grid clicked: its channel there, and the channel page opened on it."""

    zoom: Any
    tabs: Any
    block: Any
    channel: Any


class Opened(NamedTuple):
    """The channel page opened on a block and channel chosen elsewhere (the inspector, the Dataset tab)."""

    tabs: Any
    block: Any
    channel: Any


def open_channel(block: str, channel: float | None) -> Opened:
    """Open the channel page on ``block`` and ``channel`` (channel 0 where none is chosen yet)."""
    if not block:
        raise Refusal("select a block first (click one in the graph or a table)", "No block")
    c = whole("channel", channel) if channel is not None and float(channel) >= 0 else 0
    return Opened(gr.update(selected="channel"), gr.update(value=block), c)


def channel_cleared() -> ChannelPage:
    """A new model: the page's picture, map and examples were the last model's."""
    return ChannelPage("Pick a channel: click a tile of the Feature maps grid, a row of the Dataset tab's channels, "
                       "or type a block and a channel above.", None, "", None, None, "")


def _session(request: gr.Request | None) -> str:
    return getattr(request, "session_hash", None) or "local"


def _kept() -> Any:
    if "pictures" not in _KEPT:
        _KEPT["pictures"], _KEPT["costs"] = lib.Kept(), {}
    return _KEPT["pictures"]


def _model(spec: str, checkpoint: str | None, weights: str, device: str, normalisation: str) -> tuple[Any, Any]:
    config = model_config(spec)
    loaded = APP.store.model(config, weights, checkpoint or APP.settings.weights, device or APP.settings.device)
    pre = loaded.preprocess
    if normalisation and normalisation != "own":
        try:
            pre = pre.normalised(normalisation)
        except ValueError as exc:
            raise Refusal(str(exc), "Invalid normalisation") from None
    return loaded, pre


def _settings(method: str, steps: float, size: float) -> Any:
    if method not in ("maco", "fourier"):
        raise Refusal(f"the method is MACO or Fourier, not {str(method)[:40]!r}", "Invalid method")
    n, px = whole("steps", steps), whole("size", size)
    if not 8 <= n <= 1024 or not 32 <= px <= 256:
        raise Refusal(f"steps must be 8 to 1024 and the size 32 to 256 px; got {n} and {px}", "Invalid settings")
    return lib.Settings(method=method, steps=n, size=px)


def _where(spec: str, block: str, channel: float, size: int) -> tuple[str, int]:
    capped("a block name", block)
    c = whole("channel", channel)
    blocks = {b.name: b for b in lib.structure_trace(model_config(spec), size).blocks}  # (cached per model)
    if block not in blocks:
        names = list(blocks)
        raise Refusal(f"no block {block[:80]!r} in this model (its blocks are {names[0]} … {names[-1]})", "No such block")
    width = blocks[block].out_shape[0]
    if not 0 <= c < width:
        raise Refusal(f"{block} has {width} channels (0–{width - 1}); got {c}", "No such channel")
    return block, c


def _around(spec: str, weights: str, label: str, block: str, c: int, cid: str, run: str,
            request: gr.Request | None) -> tuple[Any, Any, str, Any]:
    """The channel over the current image (when one has run at this model), its examples, and the open run when
    its weights are these (``label``): a run of other weights shows its examples but checks no picture."""
    channel_map = None
    if cid:
        try:
            cap = APP.store.capture(cid)
            same = cap.model_name == spec and cap.request is not None and cap.request[1] == weights
            if same and block in cap.maps and c < cap.maps[block].shape[0]:  # (this model's, these weights')
                channel_map = png_file(lib.overlay(cap, block, channel=c), f"{block}_c{c}_map", cid)
        except lib.Expired:
            pass
    files = run_files(run, spec, block, request) if run else None
    if files is None:
        return channel_map, None, "No dataset run of this model is open: run or open one (Dataset tab) to see the " \
                                  "channel's top images here and to check its picture against them.", None
    shown = dataset_channel(run, block, c, request)
    if files.summary.get("weights") != label:
        return channel_map, shown.examples, shown.caption + f" The run used other weights ({files.summary.get('weights')})" \
            ": pictures of these weights are not checked against it.", None
    return channel_map, shown.examples, shown.caption, files


def _lines(pictures: list[Any], files: Any) -> str:
    return "  \n".join([p.notice for p in pictures[:1] if p.notice] + [lib.check(p, files).line for p in pictures])


def _shown(picture: Any) -> Any:
    """The picture scaled up by a whole factor to at least ``SHOWN`` px, each pixel a square (nothing invented)."""
    image = picture.image
    factor = max(1, -(-SHOWN // image.width))
    return image.resize((image.width * factor, image.height * factor), 0) if factor > 1 else image


@titled("Cannot open the channel page")
def channel_page(spec: str, checkpoint: str | None, weights: str, device: str, normalisation: str, block: str,
                 channel: float, method: str, steps: float, size: float, cid: str = "", run: str = "",
                 request: gr.Request = None) -> ChannelPage:
    """The page without optimising: a kept picture if there is one, else what one would cost (one timed step)."""
    if not block or channel is None or float(channel) < 0:
        return skipped(ChannelPage)
    loaded, pre = _model(spec, checkpoint, weights, device, normalisation)
    s = _settings(method, steps, size)
    block, c = _where(spec, block, channel, s.size)
    channel_map, examples, caption, files = _around(spec, weights, loaded.weights_label, block, c, cid, run,
                                                     request)
    key = lib.Kept.key(loaded.model, (pre.mean, pre.std), block, c, s)
    pictures = _kept().get(key)
    title = f"**{spec} · {block} · channel {c}** · weights: {loaded.weights_label}" + \
        ("" if loaded.trained else f" · {RANDOM}")
    if pictures is None:
        cost = _step_cost(loaded, pre, block, s)
        return ChannelPage(f"{title} · a {s.method.upper() if s.method == 'maco' else 'Fourier'} picture: {s.steps} "
                           f"steps at {s.size} px, about {cost * s.steps:,.0f} s here", None, "", channel_map,
                           examples, caption)
    return ChannelPage(title, png_file(_shown(pictures[0]), f"{block}_c{c}", key[0][:12]), _lines(pictures, files),
                       channel_map, examples, caption)


def _step_cost(loaded: Any, pre: Any, block: str, s: Any) -> float:
    """Seconds per step of this model at this size, measured once (two steps: the second is the cost)."""
    costs, key = _KEPT["costs"], (id(loaded.model), block, s.size, s.method)
    if key not in costs:
        if len(costs) > 256:  # (ids of models gone may come back: a bound, not a cache policy)
            costs.clear()
        times: list[float] = []
        with loaded.lock:
            lib.visualize(loaded.model, block, [0], lib.Settings(method=s.method, steps=2, size=s.size),
                          pre.mean, pre.std, progress=lambda _d, _t, secs: times.append(secs))
        costs[key] = times[1] - times[0]
    return costs[key]


@titled("Cannot draw this channel's picture")
def channel_visualize(spec: str, checkpoint: str | None, weights: str, device: str, normalisation: str, block: str,
                      channel: float, method: str, steps: float, size: float, cid: str = "", run: str = "",
                      request: gr.Request = None, progress: gr.Progress = gr.Progress()) -> ChannelPage:
    """Optimise the channel's picture (kept: the same channel and settings show at once next time)."""
    if not block or channel is None or float(channel) < 0:
        raise Refusal("pick a block and a channel first", "No channel")
    loaded, pre = _model(spec, checkpoint, weights, device, normalisation)
    s = _settings(method, steps, size)
    block, c = _where(spec, block, channel, s.size)
    key = lib.Kept.key(loaded.model, (pre.mean, pre.std), block, c, s)
    if _kept().get(key) is None:
        stop = _STOPS[_session(request)] = threading.Event()

        def report(done: int, total: int, secs: float) -> None:
            rate = done / secs if secs > 0 else 0.0
            progress(done / total, desc=f"step {done}/{total} · {rate:.1f} steps/s · {(total - done) / max(rate, 1e-9):.0f} s left")

        with loaded.lock:
            try:
                pictures = lib.visualize(loaded.model, block, [c], s, pre.mean, pre.std, progress=report,
                                         cancel=stop.is_set)
            except lib.Cancelled as exc:
                raise Refusal(f"the picture was stopped ({exc}); nothing was kept", "Stopped") from None
        _kept().put(key, pictures)
    return channel_page(spec, checkpoint, weights, device, normalisation, block, c, method, steps, size, cid, run,
                        request)


def channel_stop(request: gr.Request = None) -> None:
    """Stop this session's picture at its next step."""
    stop = _STOPS.get(_session(request))
    if stop is not None:
        stop.set()


def pick_in_grid(cid: str, block: str, k: float, evt: gr.SelectData) -> GridPick:
    """A click on the top-k grid: the tile's channel, zoomed there and opened on the channel page."""
    if not cid or not block:
        return skipped(GridPick)
    try:
        cap = APP.store.capture(cid)
    except lib.Expired:
        return skipped(GridPick)
    channels = lib.top_channels(cap, block, whole("k", k))
    x, y = (evt.index or [0, 0])[:2]
    c = lib.grid_channel(channels, int(x), int(y))
    if c is None:
        return skipped(GridPick)
    return GridPick(c, gr.update(selected="channel"), gr.update(value=block), c)


__all__ = ["ChannelPage", "GridPick", "Opened", "channel_cleared", "channel_page", "channel_stop", "channel_visualize", "open_channel", "pick_in_grid"]
