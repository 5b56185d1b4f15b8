"""Package data: the bundled clock and rule policies and their JSON Schemas."""
