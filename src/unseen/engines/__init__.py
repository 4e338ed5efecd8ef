"""Engines run the per-file pipeline over many files: `local` (a process pool on this machine) and
`ray` (Ray Data, one machine or a cluster). Both keep a manifest in the output folder to resume."""
