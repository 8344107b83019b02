"""Synthetic-image detector: pure torch + numpy, no Django.

Import from the submodules (`detection.detector.runtime`, `.interface`, ...): this package imports nothing
itself, so code that only needs the interface or a status does not pay for importing torch.
"""
