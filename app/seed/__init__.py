"""Demo data: ``flask seed`` and the demo set ``flask serve`` loads on first run."""
