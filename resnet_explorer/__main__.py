"""``python -m resnet_explorer [flags]``: the app, as ``python app.py`` serves it."""
from .main import main

main(prog="python -m resnet_explorer")
