"""Pseudo-labelling with LLMs: `corpusforge label pqa-u` (AntGLM-Med section 3.4.3, LLM-annotated PQA-U).

The pieces, each with one job (the distilabel split: a task is not the model). The model side (backends, the
request cache, requests, chat messages, model and sampling specs) is corpusforge/llm/, shared with the LLM steps
of builds:

- config.py      the label job (YAML recipe or CLI flags), validated before any I/O
- items.py       input items (PubMedQA layouts, generic JSONL, Hub datasets) -> LabelItem
- prompts.py     jinja templates (one per strategy step) -> chat messages; the template hash
- parsing.py     model text -> one of the options (or a counted reason why not)
- strategies.py  long-answer, voc, cot, ppl as step generators; the ensemble vote
- runner.py      drives many items' strategies in lockstep waves through llm/engine.py, each wave one batch
- label_record.py the output record (schemas/label.schema.json) and its arrow schema
- summary.py     label distribution, unlabeled reasons, cache hits, agreement, throughput
- output.py      the dataset directory: parquet shards, manifest.json, card
- evaluation.py  the labeler scored on PQA-L's official test PMIDs, per strategy
- job.py         one job from start to finish (in this process, or split into tasks)
- selection.py   the items a job labels; quarantined input records on the way
- ondemand.py    the job's backend, started when the cache cannot answer a request
- finish.py      the end of any run: record check, manifest and card, the LabelRun result
- coordinator.py the job split into tasks on the runtime's executors (local, Ray, Slurm), merged into one output
- shards.py      one task of a split job: its folder layout, cache, devices, and the step that labels its share
- merge.py       `label merge`: one output from run.num_shards outputs made by hand
- output_lock.py the output lock (runtime's RunLock; the sweeper and stop signals: corpusforge/runtime/guard.py)
"""
