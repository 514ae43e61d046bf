"""Figures about a model: the paper's metrics, speaker verification and identification,
calibration of operating points, evaluation on a manifest, latency."""
