"""The billing core: a gRPC subscription billing and revenue server."""

__version__ = "0.1.0"
