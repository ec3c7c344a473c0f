"""Chapter NUM: number formats — integers, rounding, binary floating point."""
