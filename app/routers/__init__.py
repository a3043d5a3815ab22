"""HTTP routers: validate parameters, call the registries and ``geo/``, encode."""
