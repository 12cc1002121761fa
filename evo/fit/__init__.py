"""Constant fitting: where accuracy comes from (float32 on the float32 lattice; reals
in double-double). A platform (evo.platforms) names its fitter."""
