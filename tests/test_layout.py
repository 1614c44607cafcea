"""Tables as a student reads them: own rows first, the others folded, no index, no broken address."""

from __future__ import annotations

import re

import pandas as pd

from labkit.lab import Lab
from labkit.models import Endpoint, Network
from labkit.notebook.layout import own_rows, side_by_side, table, table_html
from labkit.notebook.tables import endpoints_table, networks_table


def _crowded_bridge(n_others: int = 90) -> Network:
    """``network inspect bridge`` on a workshop's shared engine: the student's row is 88th."""
    names = [f"student{i:02d}-myapp2" for i in range(n_others)]
    names.insert(87, "alice-myapp2")
    return Network(
        id="b" * 64,
        name="bridge",
        driver="bridge",
        subnet="172.17.0.0/16",
        endpoints=tuple(
            Endpoint(
                f"{i:064x}", name, f"172.17.{i // 200}.{2 + i % 200}/16", mac="02:42:ac:11:00:02"
            )
            for i, name in enumerate(names)
        ),
    )


def _rows(fragment: str) -> list[str]:
    return re.findall(r"<tr><td[^>]*>([^<]*)</td>", fragment)


def test_own_rows_come_first_and_the_others_fold(sim_engine):
    lab = Lab(sim_engine, namespace="alice")
    out = table_html(endpoints_table(_crowded_bridge()), lab)
    shown, folded = out.split("<details", 1)
    assert _rows(shown) == ["alice-myapp2"]
    assert "90 more containers that are not yours" in folded
    assert len(_rows(folded)) == 90 and "alice-myapp2" not in _rows(folded)


def test_no_index_column_and_addresses_on_one_line():
    frame = endpoints_table(_crowded_bridge(3))
    out = table_html(frame)
    assert "<th></th>" not in out and "<th>container</th>" in out.split("<tr>")[1]
    first_row = re.search(r"<tbody><tr>(.*?)</tr>", out).group(1)
    cells = re.findall(r"<td( class='labkit-addr')?>([^<]*)</td>", first_row)
    addr = {text: bool(cls) for cls, text in cells}
    assert addr["172.17.0.2/16"] and addr["02:42:ac:11:00:02"]  # IPv4/prefix and MAC kept whole
    assert not addr["student00-myapp2"]  # names and IDs may wrap
    assert "td.labkit-addr{white-space:nowrap" in out


def test_probe_rows_keep_the_client_address_and_times_whole():
    # notebook 01's old_ways table wrapped "[::ffff:172.17.0.1]:5313|4" and "15.7|7" in a
    # narrow column: the client an app sees is an IPv4-mapped IPv6 address.
    frame = pd.DataFrame(
        [{"ms": 15.77, "client seen": "[::ffff:172.17.0.1]:53134", "note": "HTTP 200 from it"}]
    )
    cells = dict(
        (text, bool(cls))
        for cls, text in re.findall(r"<td( class='labkit-addr')?>([^<]*)</td>", table_html(frame))
    )
    assert cells == {"15.77": True, "[::ffff:172.17.0.1]:53134": True, "HTTP 200 from it": False}


def test_builtin_networks_count_as_the_students_own(sim_engine):
    lab = Lab(sim_engine, namespace="alice")
    for ns in ("alice", "bob", "carol"):
        Lab(sim_engine, namespace=ns).create_network("labnet")
    frame = networks_table(sim_engine.networks())
    assert list(frame["NAME"][own_rows(frame, lab)]) == ["alice-labnet", "bridge", "host", "none"]
    assert "2 more networks that are not yours" in table_html(frame, lab)


def test_nothing_folded_without_a_lab_or_when_all_rows_are_own(sim_engine):
    frame = pd.DataFrame({"container": ["alice-web"], "IPv4": ["172.17.0.2/16"]})
    assert "<details" not in table_html(frame)
    assert "<details" not in table_html(frame, Lab(sim_engine, namespace="alice"))
    none_mine = table_html(frame, mine={"bob-web"})
    assert "None of these containers is yours" in none_mine and "1 more" in none_mine
    assert table(frame).data == table_html(frame)


def test_side_by_side_folds_each_table_and_keeps_the_json(sim_engine):
    lab = Lab(sim_engine, namespace="alice")
    out = side_by_side(
        endpoints_table(_crowded_bridge()),
        '{"Name": "bridge"}',
        titles=("endpoints", "raw"),
        lab=lab,
    ).data
    assert "90 more containers" in out and "&quot;Name&quot;: &quot;bridge&quot;" in out


def test_modelled_command_output_is_marked_simulated(sim_engine):
    from labkit.notebook.layout import command_output

    lab = Lab(sim_engine, namespace="alice")
    out = command_output("cat /proc/sys/net/ipv4/ip_forward", "1\n", lab=lab).data
    assert "SIMULATED" in out and "$ cat /proc/sys/net/ipv4/ip_forward\n1</pre>" in out
    real = command_output("ip -4 addr", "inet 127.0.0.1/8 <lo>", simulated=False).data
    assert "SIMULATED" not in real and "&lt;lo&gt;" in real  # output is text, never HTML


def test_install_table_display_hides_the_index(monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell

    import labkit.notebook.layout as layout

    shell = InteractiveShell.instance()
    try:
        monkeypatch.setattr("IPython.get_ipython", lambda: shell)
        layout.install_table_display()
        data, _ = shell.display_formatter.format(pd.DataFrame({"container": ["a"]}))
        assert "labkit-table" in data["text/html"] and "<th></th>" not in data["text/html"]
    finally:
        InteractiveShell.clear_instance()


def test_an_empty_table_says_none_instead_of_a_bare_header():
    # Notebook 03's first inspect of bridge: "containers (endpoints)" was a header over nothing.
    empty = endpoints_table(Network(id="b" * 64, name="bridge", driver="bridge", endpoints=()))
    out = table_html(empty)
    assert "(none)" in out and "<th>" not in out
    out = side_by_side(empty, titles=("containers (endpoints)",)).data
    assert "containers (endpoints)" in out and "(none)" in out


def test_words_wrap_between_words_and_only_long_tokens_break_anywhere():
    # Notebook 04's hops table broke "agent01" as "agent0|1" in a narrow column.
    frame = pd.DataFrame([{"where": "agent01", "ID": "e" * 64, "what": "the kernel wraps it"}])
    out = table_html(frame)
    cells = re.findall(r"<td( class='labkit-\w+')?>([^<]*)</td>", out)
    assert cells == [
        ("", "agent01"),
        (" class='labkit-long'", "e" * 64),
        ("", "the kernel wraps it"),
    ]
    assert ".labkit-table td{overflow-wrap:break-word}" in out
    assert "td.labkit-long{overflow-wrap:anywhere}" in out
