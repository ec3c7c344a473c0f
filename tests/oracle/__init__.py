"""Independent exact oracles, used only by tests.

Written separately from refq (pure integers and ``fractions.Fraction``, no numpy, no
refq imports) so that a shared mistake is unlikely. One module per spec chapter.
"""
