"""Python client for the billing core.

import grpc
from billing_client import v1

channel = grpc.insecure_channel("127.0.0.1:50051")
customers = v1.customers_pb2_grpc.CustomerServiceStub(channel)
"""

from billing_client import v1
from billing_client.auth import bearer_metadata

__all__ = ["bearer_metadata", "v1"]
