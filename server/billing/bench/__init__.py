"""`billing-bench`: measures the billing server against a bare gRPC echo baseline.

The harness starts every server it measures (an echo server and the billing server on a
fresh SQLite or PostgreSQL database, all on 127.0.0.1), drives them from several load
processes and prints throughput and latency percentiles per RPC. Run on demand, not in CI.
"""
