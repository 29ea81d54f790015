"""How the norms are drawn: their views, registered with ``minigrad.viz``."""
