// The TypeScript client for the billing core: the messages and service descriptors that
// `make proto` generates from proto/ with buf (src/gen, never edited by hand), plus the few
// things every caller needs and should not write again: the target and token from the
// environment, the token on every call, a deadline on every call, and the stable
// ErrorInfo.reason of a failure.
import { createClient, ConnectError, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { DescService } from "@bufbuild/protobuf";
import { ErrorInfoSchema, BadRequestSchema } from "./gen/google/rpc/error_details_pb.js";

export * as customers from "./gen/billing/v1/customers_pb.js";
export * as subscriptions from "./gen/billing/v1/subscriptions_pb.js";
export * as invoices from "./gen/billing/v1/invoices_pb.js";
export * as rules from "./gen/billing/v1/rules_pb.js";
export * as usage from "./gen/billing/v1/usage_pb.js";
export * as money from "./gen/billing/v1/money_pb.js";
export { ConnectError, Code } from "@connectrpc/connect";

export const DEFAULT_TARGET = "127.0.0.1:50051";
export const DEFAULT_TIMEOUT_MS = 10_000;

export interface BillingTransportOptions {
  /** host:port; default BILLING_TARGET, else 127.0.0.1:50051. */
  target?: string;
  /** Bearer token; default BILLING_TOKEN. */
  token?: string;
  /** Deadline of every call that sets none; default 10 s. */
  timeoutMs?: number;
  /** https instead of plaintext (TLS in front of or in the server). */
  tls?: boolean;
}

/** A gRPC (HTTP/2) transport to the billing server carrying the token on every call. */
export function createBillingTransport(options: BillingTransportOptions = {}): Transport {
  const target = options.target ?? process.env.BILLING_TARGET ?? DEFAULT_TARGET;
  const token = options.token ?? process.env.BILLING_TOKEN;
  const bearer: Interceptor = (next) => async (request) => {
    if (token) request.header.set("authorization", `Bearer ${token}`);
    return next(request);
  };
  return createGrpcTransport({
    baseUrl: `${options.tls ? "https" : "http"}://${target}`,
    interceptors: [bearer],
    defaultTimeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
  });
}

/** A typed client of one service, e.g. `billingClient(customers.CustomerService)`. */
export function billingClient<T extends DescService>(
  service: T,
  transport: Transport = createBillingTransport(),
): Client<T> {
  return createClient(service, transport);
}

/** The stable reason of a failed call (`ErrorInfo.reason`, e.g. ETAG_MISMATCH), if any. */
export function errorReason(error: unknown): string | undefined {
  const failure = ConnectError.from(error);
  return failure.findDetails(ErrorInfoSchema)[0]?.reason;
}

/** The fields a refused request got wrong, with why (`BadRequest` field violations). */
export function fieldViolations(error: unknown): { field: string; description: string }[] {
  const failure = ConnectError.from(error);
  return failure
    .findDetails(BadRequestSchema)
    .flatMap((bad) => bad.fieldViolations.map((v) => ({ field: v.field, description: v.description })));
}
