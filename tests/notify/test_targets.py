"""Which addresses a webhook may reach: the pure rules, every spelling of an internal address."""

from __future__ import annotations

import ipaddress

import pytest

from driftwatch.notify.targets import (
    TargetRefused,
    check_addresses,
    literal_address,
    refusal,
    reserved_name_addresses,
)

LOOPBACK_ONLY = (ipaddress.ip_network("127.0.0.1/32"),)


@pytest.mark.parametrize(
    ("host", "rule"),
    [
        ("127.0.0.1", "loopback"),
        ("127.1", "loopback"),
        ("2130706433", "loopback"),
        ("0x7f.1", "loopback"),
        ("017700000001", "loopback"),
        ("[::1]", "loopback"),
        ("[::ffff:127.0.0.1]", "loopback (127.0.0.0/8) (as 127.0.0.1)"),
        ("[::127.0.0.1]", "loopback"),
        ("[2002:7f00:1::]", "loopback"),
        ("[64:ff9b::7f00:1]", "loopback"),
        ("169.254.169.254", "link-local (169.254.0.0/16, where cloud metadata services answer)"),
        ("[::ffff:169.254.169.254]", "link-local"),
        ("[fd00:ec2::254]", "AWS metadata"),
        ("[fe80::1%25eth0]", "link-local"),
        ("10.0.0.1", "private (RFC 1918, 10.0.0.0/8)"),
        ("172.16.5.4", "private (RFC 1918, 172.16.0.0/12)"),
        ("192.168.1.1", "private (RFC 1918, 192.168.0.0/16)"),
        ("[fd12:3456::1]", "IPv6 unique local"),
        ("100.64.0.1", "shared (carrier-grade NAT"),
        ("0.0.0.0", "unspecified"),
        ("0", "unspecified"),
        ("[::]", "unspecified"),
        ("224.0.0.251", "multicast"),
        ("[ff02::1]", "multicast"),
        ("255.255.255.255", "broadcast"),
        ("192.0.2.10", "reserved (not a public internet address)"),
    ],
)
def test_every_spelling_of_an_internal_address_is_refused_naming_the_rule(host: str, rule: str) -> None:
    address = literal_address(host.replace("%25", "%"))

    assert address is not None
    reason = refusal(address, ())
    assert reason is not None and rule in reason


@pytest.mark.parametrize("host", ["93.184.215.14", "[2606:4700::1111]", "[::ffff:93.184.215.14]", "1.1.1.1"])
def test_public_addresses_are_targets(host: str) -> None:
    address = literal_address(host)

    assert address is not None and refusal(address, ()) is None


@pytest.mark.parametrize("host", ["hooks.example.com", "1e100.net", "0x7f.example", "localhost", "cafe"])
def test_names_are_not_read_as_addresses(host: str) -> None:
    assert literal_address(host) is None


def test_an_allowed_network_admits_its_addresses_in_any_spelling_and_nothing_else() -> None:
    for host in ("127.0.0.1", "127.1", "2130706433", "[::ffff:127.0.0.1]"):
        address = literal_address(host)
        assert address is not None and refusal(address, LOOPBACK_ONLY) is None, host
    for host in ("127.0.0.2", "[::1]", "10.0.0.1"):
        address = literal_address(host)
        assert address is not None and refusal(address, LOOPBACK_ONLY) is not None, host


@pytest.mark.parametrize(
    "name",
    [
        "metadata.google.internal",
        "METADATA.google.internal.",
        "metadata.goog",
        "instance-data",
        "x.localhost",
    ],
)
def test_names_that_always_mean_an_internal_address_need_no_resolver(name: str) -> None:
    addresses = reserved_name_addresses(name)

    assert addresses and all(refusal(address, ()) is not None for address in addresses)


def test_one_internal_answer_among_public_ones_refuses_the_name() -> None:
    answers = [ipaddress.ip_address("93.184.215.14"), ipaddress.ip_address("127.0.0.1")]

    with pytest.raises(TargetRefused, match=r"'rebind.example' resolves to 127.0.0.1, which is loopback"):
        check_addresses("rebind.example", answers, ())
    check_addresses("rebind.example", answers, LOOPBACK_ONLY)


def test_the_refusal_says_how_to_allow_an_on_premises_receiver() -> None:
    with pytest.raises(TargetRefused, match="DRIFTWATCH_WEBHOOK_ALLOWED_NETWORKS"):
        check_addresses("10.1.2.3", [ipaddress.ip_address("10.1.2.3")], ())
