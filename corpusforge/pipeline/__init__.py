"""Corpus operations as datatrove PipelineSteps, registered under stable names (see `registry`)."""
