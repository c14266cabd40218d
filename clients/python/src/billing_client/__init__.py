"""Python client for the billing core.

Example::

    import grpc
    from billing_client import bearer_metadata
    from billing_client.v1 import customers_pb2, customers_pb2_grpc

    channel = grpc.insecure_channel("127.0.0.1:50051")
    customers = customers_pb2_grpc.CustomerServiceStub(channel)
    customers.ListCustomers(customers_pb2.ListCustomersRequest(), metadata=bearer_metadata(token))
"""

from billing_client import v1
from billing_client.auth import bearer_metadata

__all__ = ["bearer_metadata", "v1"]
