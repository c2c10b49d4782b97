#!/usr/bin/env bash
# Install what ResNet Explorer needs on a Debian/Ubuntu machine: system packages, then a virtual env.
#   scripts/setup.sh          app: graphviz + .venv from requirements.txt
#   scripts/setup.sh --test   tests too: chromium + .venv from requirements-test.txt
# Re-running is cheap: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

apt_pkgs=()
command -v dot >/dev/null 2>&1 || apt_pkgs+=(graphviz)
if [ "$want_test" = 1 ] && [ ! -x /usr/bin/chromium ]; then apt_pkgs+=(chromium fonts-dejavu-core); fi
# The paper figures' TikZ is compiled by the tests: pdflatex (texlive-latex-base) and TikZ (texlive-pictures).
if [ "$want_test" = 1 ] && ! command -v pdflatex >/dev/null 2>&1; then apt_pkgs+=(texlive-latex-base texlive-pictures); fi
if [ "${#apt_pkgs[@]}" -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "setup: installing ${apt_pkgs[*]} with apt-get"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${apt_pkgs[@]}" >/dev/null
  else
    echo "setup: please install ${apt_pkgs[*]} with your system's package manager (see README)" >&2
    exit 1
  fi
fi

PY=${PYTHON:-python3}
req=requirements.txt
[ "$want_test" = 1 ] && req=requirements-test.txt
stamp=.venv/.installed-$(basename "$req" .txt)
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
if [ ! -f "$stamp" ] || [ "$req" -nt "$stamp" ] || [ requirements.txt -nt "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing Python packages from $req, and this project (editable: resnet, explorer, resnet-explorer)"
  app_torch=()
  # The app alone gets torch's small CPU build unless a torch is already there (the tests' 2.14.1 also works).
  if [ "$want_test" = 0 ] && ! .venv/bin/python -c "import torch" 2>/dev/null; then app_torch=(torch==2.13.0); fi
  # Numba (the extra "fast"): the dataset runs' compiled reductions; optional, but the app's set-up has it.
  .venv/bin/python -m pip install -q --disable-pip-version-check -r "$req" "${app_torch[@]}" "numba>=0.61"
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
  touch "$stamp"
fi
if [ "$want_test" = 1 ]; then
  # Mermaid renders our Mermaid exports in Chromium in the tests (pinned, integrity-checked, from the npm registry);
  "$PY" scripts/fetch_npm.py mermaid 12.3.0 package/dist/mermaid.min.js tests/.cache/mermaid.min.js
  # axe-core audits every tab of the page for accessibility in the browser tests.
  "$PY" scripts/fetch_npm.py axe-core 4.14.1 package/axe.min.js tests/.cache/axe.min.js
  # mxGraph, draw.io's diagram engine, opens our .drawio files in the tests.
  "$PY" scripts/fetch_npm.py mxgraph 4.2.2 package/javascript/mxClient.min.js tests/.cache/mxClient.min.js
fi
