"""Shared fixtures: offline Hugging Face, and a session broker/Redis for integration tests."""

from __future__ import annotations

import os

# No test may reach a model hub: models come from installed packages only.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
