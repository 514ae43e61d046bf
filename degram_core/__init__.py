"""degram_core: DEGramNet in plain PyTorch (no ROS). See README.md.

The package is laid out by layer, each importing only the layers above it in this list:

    nn/         the networks: SincGram, TF-DELayer, ECA, front ends, backbones, heads,
                SpecAugment, the model registry (build_model)
    runtime/    what a robot runs: audio in (files, decoded messages, the listener the ROS
                nodes wrap), checkpoints, the Classifier (torch or onnxruntime), export, the
                streaming core, operating points, sound events, voice activity, request checks
    galleries/  named centroids of a model's embeddings (speakers, taught sounds): the one
                enrollment path and identification
    data/       training data: manifests, the dataset, random-length crops, samplers, mixing
    scoring/    figures: the paper's metrics, speaker verification, calibration, evaluation
    training/   recipes (TrainConfig), splits, batches, the loop and its resume state
    commands/   the `degram` CLI, one module a command (cli.py finds them)

The rule, held by test/test_code_shape.py: runtime/ and galleries/ never import data/,
scoring/ or training/ (a robot needs none of them), and degram_ros imports nothing of
degram_core but runtime/ and galleries/.
"""
from .nn.frontend import DEGram, DESpectrogram, Spectrogram
from .nn.frontend_config import FrontendConfig
from .nn.models import AudioClassifier, ModelConfig, build_model, list_models
from .nn.sincgram import SincGram
from .nn.tf_delayer import TFDELayer
from .runtime.audio import SAMPLE_RATE, AudioError, load_audio
from .runtime.checkpoint import CheckpointError, load_checkpoint, load_model, save_checkpoint
from .runtime.classifier import Classifier, Prediction, StreamingClassifier, WindowResult

__version__ = "0.1.0"

__all__ = [
    "SAMPLE_RATE", "AudioError", "load_audio", "CheckpointError", "load_checkpoint", "load_model",
    "save_checkpoint", "DEGram", "DESpectrogram", "FrontendConfig", "SincGram", "Spectrogram",
    "TFDELayer", "Classifier", "Prediction", "StreamingClassifier", "WindowResult",
    "AudioClassifier", "ModelConfig", "build_model", "list_models",
]
