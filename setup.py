"""pip install . : degram_core, the degram_ros node modules and the `degram` command, for
users without ROS. ROS users build this repository with colcon (package.xml, CMakeLists.txt),
which also generates the messages."""
from setuptools import find_packages, setup

setup(
    name="degram",
    version="0.1.0",
    description="DEGramNet sound event recognition and speaker identification for robots",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["degram_core", "degram_core.*", "degram_ros", "degram_ros.*"]),
    install_requires=[
        "torch>=2.1",  # bring your platform's wheel (CPU, CUDA, Jetson) before installing
        "numpy>=1.24",
        "soundfile>=0.12",
        "soxr>=0.3",
        "PyYAML>=6",
        "tqdm>=4.60",
        "scikit-learn>=1.3",
        "scipy>=1.10",
        "onnxruntime>=1.17",  # Silero VAD runs in it
        "silero-vad>=6",  # its ONNX weights; without the torchaudio extras
        "av>=12",  # MP3 input (audio_capture format mp3)
    ],
    extras_require={
        "train": ["tensorboard>=2.12", "pyroomacoustics>=0.7"],
        "export": ["onnx>=1.15", "onnxscript>=0.1", "onnxruntime>=1.17"],
        "plot": ["matplotlib>=3.7"],
    },
    entry_points={"console_scripts": ["degram = degram_core.cli:main"]},
)
