"""Supervised fine-tuning on math word problems (methods.md 2.4): data, problem generator, scoring."""
