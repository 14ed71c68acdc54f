"""The restoration family: super-resolution (VDSR, SRResNet, SRGAN, ESPCN) trained on patches of any
image source degraded the papers' way (keras_gen/data/degradations.py), and inpainting (a
context-encoder network trained on random holes). Registered here, without importing TensorFlow;
a model's module is imported when the model is used. Completion by the trained diffusion models
(RePaint) needs no model of its own: keras_gen/core/samplers/repaint.py."""

from keras_gen.registry import Family

family = Family("restoration", __name__)
family.register("vdsr", "vdsr:VDSR", data_kind="degraded",
                summary="VDSR: 20 3x3 layers learn the residual of the bicubic-upsampled image; one network for "
                        "x2, x3, x4", paper="Kim, Lee & Lee 2016")
family.register("srresnet", "srresnet:SRResNet", data_kind="degraded",
                summary="SRResNet: residual blocks and sub-pixel up-sampling trained by MSE",
                paper="Ledig et al. 2017")
family.register("srgan", "srresnet:SRGAN", data_kind="degraded",
                summary="SRGAN: SRResNet fine-tuned by a VGG content loss and the adversarial game",
                paper="Ledig et al. 2017")
family.register("espcn", "espcn:ESPCN", data_kind="degraded",
                summary="ESPCN: three convolutions at the low resolution and one sub-pixel layer",
                paper="Shi et al. 2016")
family.register("inpaint", "inpaint:Inpaint", data_kind="images",
                summary="context-encoder inpainting: masked reconstruction and the adversarial game on the filled "
                        "region, trained on random rectangles and free-form strokes",
                paper="Pathak et al. 2016; Iizuka et al. 2017; Yu et al. 2019 (free-form masks)")
