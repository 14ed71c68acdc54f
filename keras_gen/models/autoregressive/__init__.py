"""Autoregressive models: PixelCNN (one file per model family; the registry finds them)."""
