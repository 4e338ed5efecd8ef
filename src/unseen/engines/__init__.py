"""Engines run the per-file pipeline over many files, all through one driver (`driver.drive`):
`storage` says where the inputs and outputs are (local folders or pyarrow URIs), `batch` what
happens to one file, `manifest` what was done (kept outside the output folder, to resume), and an
executor where the files run: `local` (this process or a process pool) or `ray` (Ray actors)."""
