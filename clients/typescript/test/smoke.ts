// Issue 18's TypeScript client check, run by tests/test_typescript_client.py against a real
// server: create a customer and a subscription, read its invoice, see a typed error.
// Prints one JSON line for the Python side to assert on.
import {
  billingClient,
  createBillingTransport,
  customers,
  subscriptions,
  invoices,
  errorReason,
  fieldViolations,
  ConnectError,
  Code,
} from "../src/index.js";

const transport = createBillingTransport();
const customerService = billingClient(customers.CustomerService, transport);
const subscriptionService = billingClient(subscriptions.SubscriptionService, transport);
const invoiceService = billingClient(invoices.InvoiceService, transport);

const runId = process.env.SMOKE_RUN_ID ?? `${Date.now()}`;
const customer = await customerService.createCustomer({
  customer: { displayName: "Acme Inc.", currencyCode: "USD" },
  requestId: `ts-customer-${runId}`,
});
const subscription = await subscriptionService.createSubscription({
  customer: customer.name,
  plan: "plans/basic_monthly",
  trialDays: 0,
  requestId: `ts-subscription-${runId}`,
});
const listed = await invoiceService.listInvoices({ subscription: subscription.name });

let notFound: { code: string; reason: string | undefined } | undefined;
try {
  await customerService.getCustomer({ name: "customers/cus_01ARZ3NDEKTSV4RRFFQ69G5FAV" });
} catch (error) {
  const failure = ConnectError.from(error);
  notFound = { code: Code[failure.code], reason: errorReason(error) };
}
let invalid: { code: string; fields: string[] } | undefined;
try {
  await customerService.createCustomer({
    customer: { displayName: "Acme Inc.", currencyCode: "USD", timeZone: "Mars/Olympus_Mons" },
    requestId: `ts-bad-${runId}`,
  });
} catch (error) {
  invalid = { code: Code[ConnectError.from(error).code], fields: fieldViolations(error).map((v) => v.field) };
}

console.log(
  JSON.stringify({
    customer: customer.name,
    subscription: subscription.name,
    subscriptionCustomer: subscription.customer,
    invoices: listed.invoices.map((i) => ({
      currency: i.total?.currencyCode,
      amountMinor: String(i.total?.amountMinor),
    })),
    notFound,
    invalid,
  }),
);
