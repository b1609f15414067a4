"""Stage-2/3 instruction data: source adapters, prompt templates, mixing, eval-set decontamination, PQA-L split.

The adapters (`instruct.*` readers) and steps (`mix.*`, `decontam.eval_sets`, `filter.label_quality`) are
registered by `corpusforge.pipeline.registry.load_builtin_steps`, so recipes can name them.
"""
