"""Package data: the JSON Schema of every event type and version, read with importlib.resources."""
