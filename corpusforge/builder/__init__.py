"""`corpusforge build`: a recipe becomes a plan of datatrove pipelines, run by an executor, then a dataset.

recipe.py   the recipe's schema (validated as a whole before any I/O)
plan.py     recipe -> ordered stages (per-source pipelines, deduplication, final write, tokenization)
accounting.py datatrove stats -> per-source counts that must add up (input = kept + dropped + quarantined)
finalize.py manifest.json and the dataset card
runner.py   runs a plan on the recipe's executor (corpusforge/runtime/executors.py): resume checks, progress, finalize
"""
