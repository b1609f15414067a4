"""The LLM layer every user of a model shares: the labeller (corpusforge/label/) and the LLM steps of builds
(corpusforge/pipeline/steps/llm/) import it; it imports neither.

- config.py      model, backend (vllm / openai / transformers) and sampling settings, validated before any I/O
- prompts.py     chat messages: what every request's prompt is made of
- requests.py    what a user asks a backend for (generate / score) and what comes back; cache keys
- backends/      vLLM offline engine, OpenAI-compatible HTTP, transformers: load, generate, score - nothing else
- cache.py       sqlite (WAL) store of every finished request: resume and second runs cost nothing
- engine.py      a backend behind the cache: de-duplicated requests, one batch per call, one engine per process
"""
