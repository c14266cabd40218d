"""billing-bench's h2load scenarios: what is sent, and how h2load's and the server's counts
are read (h2load itself runs only in the benchmark)."""

from __future__ import annotations

from pathlib import Path

import pytest

from billing.bench import h2load

# h2load 1.52's summary, as it printed it against the echo server here.
SUMMARY = """\
finished in 5.00s, 3419.00 req/s, 226.00KB/s
requests: 13676 total, 13676 started, 13676 done, 13670 succeeded, 4 failed, 1 errored, 1 timeout
status codes: 13670 2xx, 0 3xx, 0 4xx, 0 5xx
"""

# A server's scrape after ten GetCustomer calls h2load counted as succeeded (HTTP 200).
METRICS = """\
# HELP billing_rpc_handled_total RPCs completed, by method and the gRPC status code.
# TYPE billing_rpc_handled_total counter
billing_rpc_handled_total{code="UNAUTHENTICATED",method="billing.v1.CustomerService/GetCustomer"} 10.0
billing_rpc_handled_total{code="OK",method="billing.v1.CustomerService/GetCustomer"} 3.0
billing_rpc_handled_total{code="OK",method="billing.v1.CustomerService/CreateCustomer"} 7.0
billing_rpc_handled_created{code="OK",method="billing.v1.CustomerService/GetCustomer"} 1.7e+09
"""


def test_a_message_is_framed_as_grpc_sends_it():
    assert h2load.grpc_frame(b"hello") == b"\x00\x00\x00\x00\x05hello"
    assert h2load.grpc_frame(b"") == b"\x00\x00\x00\x00\x00"
    assert h2load.grpc_frame(bytes(300))[:5] == b"\x00\x00\x00\x01\x2c"


def test_the_summary_gives_the_window_and_every_kind_of_failure():
    assert h2load.parse_summary(SUMMARY) == (5.0, 13676, 13670, 6)
    in_ms = SUMMARY.replace("finished in 5.00s", "finished in 750.50ms")
    assert h2load.parse_summary(in_ms)[0] == pytest.approx(0.7505)


def test_an_unreadable_summary_is_an_error_not_zero_calls():
    with pytest.raises(h2load.H2LoadError, match="unreadable"):
        h2load.parse_summary("Error: could not connect\n")


def test_the_log_gives_latencies_of_2xx_and_counts_the_rest():
    lines = ["1796672193897230\t200\t14986", "1796672193897442\t503\t99", "", "17\t204\t5"]
    assert h2load.parse_log(lines) == ([14986, 5], 1)


def test_the_servers_count_is_read_by_method_and_code_whatever_the_label_order():
    get = "billing.v1.CustomerService/GetCustomer"
    assert h2load.handled_in(METRICS, get) == {"UNAUTHENTICATED": 10, "OK": 3}
    swapped = METRICS.replace(
        '{code="OK",method="billing.v1.CustomerService/GetCustomer"}',
        '{method="billing.v1.CustomerService/GetCustomer",code="OK"}',
    )
    assert h2load.handled_in(swapped, get) == {"UNAUTHENTICATED": 10, "OK": 3}
    assert h2load.handled_in(METRICS, "billing.v1.CustomerService/GetInvoice") == {}


def test_the_command_sends_grpc_headers_and_the_callers_metadata(tmp_path: Path):
    argv = h2load.command(
        "http://127.0.0.1:5/billing.v1.CustomerService/GetCustomer",
        tmp_path / "body",
        tmp_path / "log",
        [("authorization", "Bearer t")],
        connections=16,
        streams=4,
        warmup_s=2,
        seconds=8,
    )
    assert argv[0] == "h2load" and argv[-1].endswith("/GetCustomer")
    assert "--header=content-type: application/grpc" in argv
    assert "--header=te: trailers" in argv
    assert "--header=authorization: Bearer t" in argv
    assert {
        "--clients=16",
        "--max-concurrent-streams=4",
        "--warm-up-time=2",
        "--duration=8",
    } <= set(argv)
