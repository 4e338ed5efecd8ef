"""Reading media safely and writing clean files (no metadata)."""
