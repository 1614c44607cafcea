from labkit import host


def test_port_range_and_ip_forward_read_from_proc(tmp_path):
    (tmp_path / "ip_local_port_range").write_text("40000\t40100\n")
    (tmp_path / "ip_forward").write_text("1\n")
    assert host.read_port_range(tmp_path) == (40000, 40100)
    assert host.read_ip_forward(tmp_path) is True


def test_missing_proc_falls_back(tmp_path):
    assert host.read_port_range(tmp_path / "nope") == host.DEFAULT_PORT_RANGE
    assert host.read_ip_forward(tmp_path / "nope") is None


def test_browser_links_use_the_proxy_on_a_hub():
    assert host.browser_url(32768, env={}) == "http://localhost:32768/"
    hub = {"JUPYTERHUB_SERVICE_PREFIX": "/user/ada/"}
    assert host.browser_url(32768, env=hub) == "/user/ada/proxy/32768/"
    assert host.browser_url(32768, host="192.0.2.7", env=hub) == "http://192.0.2.7:32768/"


def test_remote_engines_cannot_reach_the_bridge():
    info = host.describe_docker("tcp://192.0.2.7:2375", {"Version": "24.0"}, {}, {})
    assert not info.local and not info.bridge_reachable and info.host == "192.0.2.7"
    assert "another machine" in info.bridge_reason


def test_docker_desktop_and_rootless_are_diagnosed():
    desktop = host.describe_docker(
        "unix:///x.sock", {"Version": "27"}, {"OperatingSystem": "Docker Desktop"}, {}
    )
    assert not desktop.bridge_reachable and "VM" in desktop.bridge_reason
    rootless = host.describe_docker(
        "unix:///x.sock", {"Version": "27"}, {"SecurityOptions": ["name=rootless"]}, {}
    )
    assert not rootless.bridge_reachable and "rootless" in rootless.description


def test_default_gateway_is_first_host():
    assert host.default_gateway("172.17.0.0/16", "bridge") == "172.17.0.1"
    assert host.default_gateway("", "bridge") == ""
    assert host.default_gateway("10.0.0.0/8", "overlay") == ""
