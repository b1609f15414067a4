"""Corpus operations as datatrove PipelineSteps; `registry.load_builtin_steps` registers them by name."""
