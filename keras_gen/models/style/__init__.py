"""Style and texture: Gatys style transfer (gatys.py), texture synthesis by Gram matching and by
Efros-Leung nearest neighbours (texture.py), feature inversion (inversion.py), with image reading
for all of them in io.py; these optimisation methods are tools, not trainable models. The trained
ones, fast feed-forward style transfer (fast.py) and arbitrary style in one pass (adain.py), are
registered here, without importing TensorFlow; a model's module is imported when it is used."""

from keras_gen.registry import Family

family = Family("style", __name__)
family.register("fast_style", "fast:FastStyle", data_kind="images",  # content images; labels are not used
                summary="feed-forward style transfer, one network for several styles (conditional instance norm)",
                paper="Johnson et al. 2016; Dumoulin et al. 2017")
family.register("adain", "adain:AdaINStyle", data_kind="unpaired",  # (content, style): --data photos --data-b textures
                summary="arbitrary style transfer in one pass: VGG encoder, adaptive instance norm, trained decoder",
                paper="Huang & Belongie 2017")
