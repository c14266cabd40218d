"""Python client for the billing core.

Example::

    from billing_client import Client
    from billing_client.v1 import customers_pb2

    with Client() as billing:  # BILLING_TARGET or 127.0.0.1:50051; token: see Client
        for customer in billing.pages(
            billing.customers.ListCustomers, customers_pb2.ListCustomersRequest()
        ):
            print(customer.name)

The generated messages and stubs are in `billing_client.v1`; `bearer_metadata` makes the
authorization metadata for a bare stub.
"""

from billing_client import errors, v1
from billing_client.auth import bearer_metadata
from billing_client.client import Client, resolve_token
from billing_client.errors import BillingError

__all__ = ["BillingError", "Client", "bearer_metadata", "errors", "resolve_token", "v1"]
