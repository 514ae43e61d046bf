"""degram_core: DEGramNet in plain PyTorch (no ROS). See README.md."""
from .audio import SAMPLE_RATE, AudioError, load_audio
from .checkpoint import CheckpointError, load_checkpoint, load_model, save_checkpoint
from .frontend import DEGram, DESpectrogram, FrontendConfig, SincGram, Spectrogram, TFDELayer
from .inference import Classifier, Prediction, StreamingClassifier, WindowResult
from .models import AudioClassifier, ModelConfig, build_model, list_models

__version__ = "0.1.0"

__all__ = [
    "SAMPLE_RATE", "AudioError", "load_audio", "CheckpointError", "load_checkpoint", "load_model",
    "save_checkpoint", "DEGram", "DESpectrogram", "FrontendConfig", "SincGram", "Spectrogram",
    "TFDELayer", "Classifier", "Prediction", "StreamingClassifier", "WindowResult",
    "AudioClassifier", "ModelConfig", "build_model", "list_models",
]
