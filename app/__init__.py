"""How the data is served: the FastAPI application, its settings and the CLI."""
