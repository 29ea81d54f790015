"""Verification tools on the engine: finite-difference gradient checks (``gradcheck``), SymPy
proofs (``symbolic``), the per-world checks of every primitive (``worlds``) and the table that
``minigrad check`` prints (``checks``)."""
