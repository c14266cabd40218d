"""CustomerService: translation only."""

from __future__ import annotations

import grpc

from billing.api.context import ContextFactory
from billing.api.convert import body_hash, customer_fields_from_proto, customer_to_proto
from billing.app.context import Write
from billing.app.customers import CustomerUpdate, CustomerUseCases
from billing_client.v1 import customers_pb2, customers_pb2_grpc


class CustomerServicer(customers_pb2_grpc.CustomerServiceServicer):  # type: ignore[misc]
    def __init__(self, customers: CustomerUseCases, call_context: ContextFactory) -> None:
        self._customers = customers
        self._ctx = call_context

    async def CreateCustomer(
        self, request: customers_pb2.CreateCustomerRequest, context: grpc.aio.ServicerContext
    ) -> customers_pb2.Customer:
        ctx = self._ctx("CreateCustomer", context)
        write = Write(
            request.request_id, body_hash(request), customer_fields_from_proto(request.customer)
        )
        customer = await self._customers.create(ctx, write, request.customer.clock)
        return customer_to_proto(customer)

    async def GetCustomer(
        self, request: customers_pb2.GetCustomerRequest, context: grpc.aio.ServicerContext
    ) -> customers_pb2.Customer:
        ctx = self._ctx("GetCustomer", context)
        return customer_to_proto(await self._customers.get(ctx, request.name))

    async def ListCustomers(
        self, request: customers_pb2.ListCustomersRequest, context: grpc.aio.ServicerContext
    ) -> customers_pb2.ListCustomersResponse:
        ctx = self._ctx("ListCustomers", context)
        page = await self._customers.list(ctx, request.page_size, request.page_token)
        return customers_pb2.ListCustomersResponse(
            customers=[customer_to_proto(c) for c in page.customers],
            next_page_token=page.next_page_token,
        )

    async def UpdateCustomer(
        self, request: customers_pb2.UpdateCustomerRequest, context: grpc.aio.ServicerContext
    ) -> customers_pb2.Customer:
        ctx = self._ctx("UpdateCustomer", context)
        update = CustomerUpdate(
            name=request.customer.name,
            fields=customer_fields_from_proto(request.customer),
            mask=tuple(request.update_mask.paths),
            etag=request.customer.etag,
        )
        write = Write(request.request_id, body_hash(request), update)
        return customer_to_proto(await self._customers.update(ctx, write))
