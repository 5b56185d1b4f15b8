"""The composition root: HTTP app, the `sgl` CLI, and the one bootstrap that wires them."""
