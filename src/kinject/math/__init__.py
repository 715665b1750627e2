"""Supervised fine-tuning on math word problems (masked SFT for math, arXiv 2510.09885): data, problem generator, scoring."""
