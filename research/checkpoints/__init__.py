"""Checkpoints of other frameworks in and out of strata (hf: Hugging Face BERT)."""
