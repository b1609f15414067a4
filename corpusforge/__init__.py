"""corpusforge: raw medical text in, LLM training data out.

Importing the package is cheap on purpose: vllm, deepspeed and torch are imported only where they are used.
"""

__version__ = "0.1.0"
