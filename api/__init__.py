"""The Implanter web service: FastAPI app factory, routes, errors and the command line."""
