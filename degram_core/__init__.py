"""degram_core: DEGramNet in plain PyTorch (no ROS). See README.md."""
from .runtime.audio import SAMPLE_RATE, AudioError, load_audio
from .runtime.checkpoint import CheckpointError, load_checkpoint, load_model, save_checkpoint
from .nn.frontend import DEGram, DESpectrogram, Spectrogram
from .nn.frontend_config import FrontendConfig
from .nn.sincgram import SincGram
from .nn.tf_delayer import TFDELayer
from .runtime.classifier import Classifier, Prediction, StreamingClassifier, WindowResult
from .nn.models import AudioClassifier, ModelConfig, build_model, list_models

__version__ = "0.1.0"

__all__ = [
    "SAMPLE_RATE", "AudioError", "load_audio", "CheckpointError", "load_checkpoint", "load_model",
    "save_checkpoint", "DEGram", "DESpectrogram", "FrontendConfig", "SincGram", "Spectrogram",
    "TFDELayer", "Classifier", "Prediction", "StreamingClassifier", "WindowResult",
    "AudioClassifier", "ModelConfig", "build_model", "list_models",
]
