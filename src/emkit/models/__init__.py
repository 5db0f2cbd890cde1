"""Public estimators: thin layers that validate input and call the engine."""
