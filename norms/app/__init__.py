"""The application layer: what uses the engine, its tools and the norms together.

The ``minigrad`` command line (``cli``), the tour that reproduces the reference post
(``tour``), the graph examples (``graph_examples``) and the spectral-norm GAN demo (``gan``).
Nothing below this package imports it.
"""
