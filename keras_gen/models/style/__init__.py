"""Style and texture (issue 20): Gatys style transfer (gatys.py), texture synthesis by Gram
matching and by Efros-Leung nearest neighbours (texture.py), feature inversion (inversion.py);
image reading for all of them in io.py. Fast feed-forward and arbitrary-style models live in
fast.py and adain.py. These optimisation methods are tools, not registered trainable models."""
