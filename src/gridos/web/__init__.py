"""The operator pages: a single static page that reads the same API as everyone else."""
