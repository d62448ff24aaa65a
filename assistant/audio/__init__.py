"""Audio in: wire formats, resampling, sources (file, microphone) and the capture replay buffer.

Everything leaving this package is float32, mono, 16 kHz, 1-D numpy arrays.
"""
