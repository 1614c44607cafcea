import pytest

from labkit.engine._checks import check_name, check_ports, check_subnet
from labkit.errors import InvalidInput, InvalidName, InvalidPort


@pytest.mark.parametrize("name", ["myapp2", "a", "web-1.x_y"])
def test_valid_names_pass(name):
    assert check_name(name) == name


@pytest.mark.parametrize("name", ["", "-x", "bad name", "a/b", "é", "x" * 200])
def test_invalid_names_say_what_why_and_how(name):
    with pytest.raises(InvalidName) as caught:
        check_name(name)
    assert repr(name) in str(caught.value) and "→" in str(caught.value)


def test_port_specs_normalise():
    assert check_ports({"80/tcp": None, "53/udp": 5353, "81": ("127.0.0.1", None)}) == {
        (80, "tcp"): ("", None),
        (53, "udp"): ("", 5353),
        (81, "tcp"): ("127.0.0.1", None),
    }


@pytest.mark.parametrize(
    "ports",
    [
        {"0/tcp": None},
        {"70000": None},
        {"80/tcp": 99999},
        {"80/xyz": None},
        {"80": "http"},
        {"80": ("nohost", 1)},
        {"80": (1,)},
    ],
)
def test_bad_ports_are_invalid_port(ports):
    with pytest.raises(InvalidPort):
        check_ports(ports)


def test_subnets():
    assert check_subnet("172.30.0.0/16") == "172.30.0.0/16"
    with pytest.raises(InvalidInput):
        check_subnet("172.30.0.1/16")
