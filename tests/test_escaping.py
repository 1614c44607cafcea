"""What comes from an engine or an app is data, never markup or terminal control: every HTML view
escapes it, and the terminal tour strips its escape codes."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from labkit.models import ProbeResult
from labkit.notebook import tables
from labkit.text import printable

EVIL = '<img src=x onerror="alert(1)">'
ESCAPES = "\x1b[31mred\x1b[0m\x1b]0;title\x07\x1b[2J"


def _result(**fields) -> ProbeResult:
    base = dict(via="host-port", target="127.0.0.1:1", url="", outcome="ok", status=200)
    return ProbeResult(**{**base, **fields})


def _unescaped(html: str) -> bool:
    return "<img" in html or 'onerror="alert' in html


@pytest.mark.parametrize(
    "styled",
    [
        lambda t: t.style,
        lambda t: t.style.format(precision=1),
        lambda t: t.style.format("{}", subset=["note"]),
        lambda t: t.style.hide(axis="index").set_properties(**{"text-align": "left"}),
        lambda t: t.assign(when=EVIL).style,
        lambda t: pd.concat([t, t], ignore_index=True).style,
        lambda t: t.set_index("Server IP").style,
        lambda t: t.rename(columns={"note": EVIL}).style,
        lambda t: t[["via", "note"]].style,
    ],
    ids=[
        "style",
        "format",
        "format-subset",
        "hide",
        "assign",
        "concat",
        "index",
        "header",
        "select",
    ],
)
def test_probe_table_styles_escape_an_apps_reply(styled):
    table = tables.probe_table([_result(server_ip=EVIL, detail=EVIL, target=EVIL)])
    html = styled(table).to_html()
    assert not _unescaped(html) and "&lt;img" in html


def test_every_labkit_table_is_a_labtable():
    from labkit.engine.sim import SimulatedEngine
    from labkit.lab import Lab

    engine = SimulatedEngine(reason="tests")
    lab = Lab(engine, namespace="esc")
    app = lab.start_app("myapp2")
    net = lab.network("bridge")
    made = [
        tables.port_table(app),
        tables.networks_table(lab.networks()),
        tables.config_table(net),
        tables.endpoints_table(net),
        tables.container_networks_table(app),
        tables.probe_table(lab.probe("myapp2")),
    ]
    assert all(isinstance(t, tables.LabTable) for t in made)
    engine.close()


def test_a_plain_styler_in_a_labkit_kernel_escapes_a_fake_engines_version():
    """Notebook 00's facts table: a DataFrame of EngineInfo fields, styled in the notebook."""
    import labkit.notebook  # noqa: F401 - what notebook 00 imports first

    facts = pd.DataFrame([("engine", f"Docker Engine {EVIL}")], columns=["fact", "value"])
    html = (
        facts.style.hide(axis="index")
        .set_properties(**{"text-align": "left"})
        .set_table_styles([{"selector": "th", "props": "text-align: left"}])
        .to_html()
    )
    assert not _unescaped(html)


def test_the_banner_and_errors_escape_a_fake_engines_words(monkeypatch):
    from IPython.display import HTML

    from labkit.errors import LabkitError
    from labkit.notebook import display

    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))

    class Fake:
        namespace = "esc"

        class engine:  # noqa: N801 - stands in for an engine object
            @staticmethod
            def info():
                from labkit.models import EngineInfo

                return EngineInfo(
                    kind="docker",
                    version=EVIL,
                    description=f"Docker Engine {EVIL}",
                    local=True,
                    host="127.0.0.1",
                )

    display.show_banner(Fake(), f"why {EVIL}")
    assert isinstance(shown[0], HTML) and not _unescaped(shown[0].data)
    assert not _unescaped(display.error_html(LabkitError(EVIL, EVIL, EVIL)))


def test_printable_strips_terminal_escapes_and_controls():
    assert printable(f"a{ESCAPES}b\r\n\tc\x00\x9b") == "aredbc"
    assert printable("x" * 500) == "x" * 200


def test_the_tour_prints_no_terminal_escapes(monkeypatch, capsys):
    from labkit import cli
    from labkit.engine.sim import SimulatedEngine

    engine = SimulatedEngine(reason="tests")
    info = dataclasses.replace(engine.info(), description=f"Simulated {ESCAPES} engine")
    monkeypatch.setattr(engine, "info", lambda: info)
    monkeypatch.setattr(cli, "choose", lambda: (engine, f"chosen {ESCAPES}"))
    real_probe = cli.Lab.probe

    def probe(self, name, **kw):  # the app's reply carries escape codes
        return [
            dataclasses.replace(r, server_ip=None, detail=f"HTTP 200 {ESCAPES}")
            for r in real_probe(self, name, **kw)
        ]

    monkeypatch.setattr(cli.Lab, "probe", probe)
    assert cli.main(["tour"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "Simulated red engine" in out and "HTTP 200 red" in out
    engine.close()
