"""LLM steps inside build recipes: rewrite, synthesize and score documents with any backend of corpusforge/llm/.

    kg.rewrite          a kg.subgraphs paragraph rewritten from its triples (AntGLM-Med 3.3); keeps every entity
    exam.rewrite        an exam question rewritten into knowledge points; states the answer, asks nothing
    llm.qa_from_text    a passage (book chunk, abstract) used as hidden reference for instruction pairs
                        (HuatuoGPT-II's recipe); emits chat records carrying the passage's provenance
    llm.score           a 0..N educational score into the document's metadata, with a threshold filter
    llm.generate        the general form: the recipe's jinja template, an output parser, a target field

One module per family (rewrite.py: kg.rewrite and exam.rewrite; qa_from_text.py; score.py; generate.py) on
base.py (LLMStep: batching, engine, retries, fallbacks, counts), with checks.py (the answer checks), config.py
(the recipe's `llm:` section and each step's overrides) and reports.py (the per-step reports for the card).

Every step is a datatrove PipelineStep. Documents are taken `batch_size` at a time; each batch's prompts go to
the engine (corpusforge/llm/engine.py: the shared backends behind the sqlite request cache) in one call, so vLLM
batches them and a killed build resends only the requests that had not finished. The engine is started once per
datatrove task, on the first request the cache cannot answer, and shared by the LLM steps of that task.

An answer is checked (the step's own check); a failed one is retried at `retry_temperature` with a new seed, up to
`max_retries`, and then the step falls back (the template text, the rule-based knowledge point) or drops the
document, counting the reason: every input document ends rewritten, fallen back, unchanged (not for this step,
counted), or dropped with a reason. Prompts are jinja files under corpusforge/templates/llm/ (English and
Chinese, picked per document); a step's `templates:` folder replaces them by file name. The template's hash is
part of each request's cache key, so editing a prompt never reuses an answer to the old one.
"""
