"""The autoregressive family: gated PixelCNN, unconditional and class-conditional, and PixelRNN.
Registered here, without importing TensorFlow; a model's module is imported when the model is used."""

from keras_gen.registry import Family

family = Family("autoregressive", __name__)
family.register("pixelcnn", "pixelcnn:PixelCNN", data_kind="images",
                summary="gated PixelCNN: exact likelihood, 256-way softmax per sub-pixel, sampled pixel by pixel",
                paper="van den Oord et al. 2016")
family.register("cpixelcnn", "pixelcnn:ConditionalPixelCNN", data_kind="labelled",
                summary="class-conditional gated PixelCNN: a learned per-class map in both gates of every block, "
                        "classifier-free guidance; samples a requested class",
                paper="van den Oord et al. 2016")
family.register("pixelrnn", "pixelrnn:PixelRNN", data_kind="images",
                summary="PixelRNN: Row LSTM or Diagonal BiLSTM over PixelCNN's 256-way softmax per sub-pixel; exact "
                        "likelihood, sampled pixel by pixel",
                paper="van den Oord, Kalchbrenner & Kavukcuoglu 2016")
