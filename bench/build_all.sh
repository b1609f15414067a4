#!/usr/bin/env bash
# Build the bundled recipes and the two real-data examples into one folder, for bench/compare_outputs.py:
#   bash bench/build_all.sh /tmp/after && python bench/compare_outputs.py /tmp/before /tmp/after
# Run from the checkout whose code should build (its corpusforge is imported through PYTHONPATH).
set -euo pipefail
OUT=${1:?usage: bench/build_all.sh OUTPUT_PARENT}
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE=1
mkdir -p "$OUT"
for recipe in stage1 stage2 stage3 examples/real_stage1 examples/real_stage2; do
    name=$(basename "$recipe")
    if [[ $recipe == examples/* && ! -d ../shared/data/real ]]; then echo "$name: skipped (../shared/data/real absent)"; continue; fi
    rm -rf "${OUT:?}/$name"
    python -c "import sys; from corpusforge.cli import main; sys.argv[0] = 'corpusforge'; main()" \
        build "recipes/$recipe.yaml" -o "$OUT/$name" >"$OUT/$name.log" 2>&1 || { echo "$name: build failed, see $OUT/$name.log"; exit 1; }
    echo "$name: built"
done
