"""Publishing built datasets to the Hugging Face Hub (`corpusforge push`)."""

from corpusforge.hub.push import PushResult, push_dataset
from corpusforge.hub.token import resolve_token

__all__ = ["PushResult", "push_dataset", "resolve_token"]
