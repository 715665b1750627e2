"""A CPU-scale world: fictional people (bios.py) and twin models pretrained on them (build.py)."""
