"""train: a thin DeepSpeed trainer for corpusforge's three stages (pt, sft, adapt) and the papers' methods.

Entry point: `deepspeed train/run.py --config train/configs/<preset>.yaml` (or `corpusforge train CONFIG`).
Importing this package imports neither torch nor deepspeed; the modules that need them import them.
"""
