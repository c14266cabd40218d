"""Generated from proto/billing/v1 by `make proto`."""
