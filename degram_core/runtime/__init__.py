"""What a robot runs: audio in (files, decoded messages, the listener), checkpoints, the
Classifier (torch or onnxruntime), the streaming core, operating points, sound events,
voice activity, and checks of what clients send."""
