"""The networks: front ends (SincGram, TF-DELayer, the four representations), backbones
(ResNets, ECA), heads, SpecAugment, and the model registry (build_model). Plain nn.Modules;
nothing here reads files or knows about training."""
