"""``explorer.show(model)``: the whole app on a live ``nn.Module``, from a script or a notebook.

The module is recognised first (a model the explorer cannot read as a ResNet is refused in one line, before any
server starts), then served by the app's own page (``resnet_explorer``, imported only here) on a server thread
of this process: inline in a Jupyter or VS Code notebook, or at the URL the handle holds. The module is used in
place through ``explorer.live``'s shadow: never pickled or copied, its flags, hooks, device and tensors left as
they are.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from .live import LiveModel, register, unregister

if TYPE_CHECKING:
    from torch import nn

    from resnet import Preprocess


@dataclass
class Shown:
    """A served app: its URL and the model's spec (what the HTTP API takes); ``close()`` stops it."""

    url: str
    model: LiveModel
    _app: Any = field(repr=False)

    @property
    def spec(self) -> str:
        return self.model.spec

    def close(self) -> None:
        """Stop the server and forget the module (the views then refuse its spec)."""
        self._app.close()
        unregister(self.model)

    def __enter__(self) -> Shown:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def show(model: nn.Module, *, name: str | None = None, input_size: int | None = None,
         preprocess: Preprocess | None = None,
         classes: Sequence[str] | None = None, datasets: str | Path | None = None, host: str = "127.0.0.1",
         port: int | None = None, inline: bool | None = None, inbrowser: bool = False) -> Shown:
    """Serve the app on ``model`` (a live module, used in place) and return a handle that closes it.

    ``preprocess`` (a ``resnet.Preprocess``) and ``classes`` (one name per output) are the model's own, for
    the feature and class maps (default: ImageNet's; a CIFAR ResNet's, 32 px and CIFAR's names);
    ``input_size`` the side it is first traced at (default: 224; a CIFAR ResNet is then shown at 32); ``datasets`` a folder of image folders the Dataset tab
    offers; ``inline`` shows the page in the notebook (default: when run in one); ``host`` 127.0.0.1 keeps it on
    this machine; ``port`` default: the first free from 7860.
    """
    from torch import nn

    from .tracing.cache import structure_trace

    if not isinstance(model, nn.Module):
        raise TypeError(f"show() takes a torch.nn.Module, got {type(model).__name__}")
    if classes is not None and (isinstance(classes, str) or not all(isinstance(c, str) for c in classes)):
        raise TypeError("classes must be a sequence of class names (str), one per output")
    folder = Path(datasets).resolve() if datasets is not None else None
    if folder is not None and not folder.is_dir():
        raise ValueError(f"datasets: no such folder: {datasets}")
    live = register(model, name, preprocess, classes)
    try:
        structure_trace(live, input_size or 224)  # recognised here, or refused in one line: no server has started
        from resnet_explorer.notebook import serve_live

        app, url = serve_live(live, folder, host, port, inline, inbrowser)
    except (TypeError, ValueError) as exc:  # NotAResNet, ForwardFailed, a bad size: their one line, no chain
        unregister(live)
        raise exc from None
    except BaseException:
        unregister(live)
        raise
    return Shown(url, live, app)


__all__ = ["Shown", "show"]
