"""Classical approximations (Taylor, minimax, Padé, rational minimax) as float32 programs."""
