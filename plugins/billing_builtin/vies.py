"""Built-in tax id verifier `vies`: the European Commission's VAT Information Exchange System,
through its SOAP `checkVat` operation (document/literal, SOAP 1.1), the protocol its WSDL
(`checkVatService.wsdl`) has described unchanged for years. The production endpoint is
https://ec.europa.eu/taxation_customs/vies/services/checkVatService; the server's setting
BILLING_VIES_URL turns the check on and names the endpoint (tests: a local server).

A registry that cannot answer (a timeout, an HTTP error, a SOAP fault such as
MS_UNAVAILABLE) is an UNKNOWN answer with the reason, never an exception: the core retries it.
The HTTP call runs in a thread (the standard library's client), off the event loop.
"""

from __future__ import annotations

import asyncio
import socket
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import date
from xml.sax.saxutils import escape

from billing.domain.tax import TaxIdStatus
from billing.plugins.engines import TaxIdCheck, TaxIdCheckRequest, TaxIdVerifier
from billing.plugins.hookspecs import hookimpl

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
TYPES = "urn:ec.europa.eu:taxud:vies:services:checkVat:types"
RESPONSE_BYTES_MAX = 64 * 1024  # a checkVat answer is well under 2 KiB
_NONE = {"", "---"}  # VIES's "not given"
# Faults that say the number itself is wrong (VIES refuses it as input).
_INVALID_FAULTS = {"INVALID_INPUT", "INVALID_REQUESTER_INFO"}


def envelope(country: str, number: str) -> bytes:
    """The checkVat request: member state prefix (EL for Greece) and the number without it."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" xmlns:urn="{TYPES}">'
        "<soapenv:Header/><soapenv:Body><urn:checkVat>"
        f"<urn:countryCode>{escape(country)}</urn:countryCode>"
        f"<urn:vatNumber>{escape(number)}</urn:vatNumber>"
        "</urn:checkVat></soapenv:Body></soapenv:Envelope>"
    ).encode()


def parse_answer(body: bytes) -> TaxIdCheck | None:
    """A checkVat response or a SOAP fault, as a check; None when the body is neither."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None
    fault = root.find(f".//{{{SOAP_ENV}}}Fault")
    if fault is not None:
        code = (fault.findtext("faultstring") or "").strip() or "an unnamed fault"
        if code in _INVALID_FAULTS:
            return TaxIdCheck(TaxIdStatus.INVALID, reason=f"VIES refused the number: {code}")
        return TaxIdCheck(TaxIdStatus.UNKNOWN, reason=f"VIES could not answer: {code}")
    answer = root.find(f".//{{{TYPES}}}checkVatResponse")
    if answer is None:
        return None

    def text(name: str) -> str:
        value = (answer.findtext(f"{{{TYPES}}}{name}") or "").strip()
        return "" if value in _NONE else value

    try:
        # xsd:date, with its zone: 2026-12-05+01:00
        checked_on: date | None = date.fromisoformat(text("requestDate")[:10])
    except ValueError:
        checked_on = None
    valid = text("valid").lower() == "true"
    return TaxIdCheck(
        TaxIdStatus.VALID if valid else TaxIdStatus.INVALID,
        checked_on,
        name=text("name"),
        address=text("address"),
        reason="" if valid else "VIES: not a valid VAT number",
    )


def _post(url: str, payload: bytes, timeout_s: float) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url,
        data=payload,
        method="POST",
        headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return response.status, response.read(RESPONSE_BYTES_MAX)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read(RESPONSE_BYTES_MAX)


class Vies:
    types = frozenset({"eu_vat"})

    async def check(self, request: TaxIdCheckRequest) -> TaxIdCheck:
        country, number = request.number[:2], request.number[2:]
        try:
            status, body = await asyncio.to_thread(
                _post, request.endpoint, envelope(country, number), request.timeout_s
            )
        except TimeoutError:
            return TaxIdCheck(
                TaxIdStatus.UNKNOWN, reason=f"VIES did not answer within {request.timeout_s:g} s"
            )
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            if isinstance(reason, TimeoutError | socket.timeout):
                return TaxIdCheck(
                    TaxIdStatus.UNKNOWN,
                    reason=f"VIES did not answer within {request.timeout_s:g} s",
                )
            return TaxIdCheck(TaxIdStatus.UNKNOWN, reason=f"VIES unreachable: {reason}")
        answer = parse_answer(body)
        if answer is None:
            # Neither an answer nor a SOAP fault: a proxy's error page, a bare server error.
            return TaxIdCheck(TaxIdStatus.UNKNOWN, reason=f"VIES answered HTTP {status}")
        return answer


@hookimpl
def billing_register_tax_id_verifiers(register: Callable[[str, TaxIdVerifier], None]) -> None:
    register("vies", Vies())
