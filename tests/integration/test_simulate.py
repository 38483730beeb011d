"""sluice-sim's pictures and "sluice simulate" (docs/SIMULATION.md).

The pictures: sluice-sim -o DIR -g writes the time series and has gnuplot
draw them; the SVGs must be well-formed XML with something drawn in them,
so that the render step cannot rot unseen.  "sluice simulate" runs a
scenario with the limits of the configuration in use: changing a limit in
main.cf or master.cf changes the simulated outcome.
"""
import csv
import os
import re
import subprocess
import xml.etree.ElementTree as ET

from conftest import BUILD, SLUICE

SIM = os.path.abspath(os.path.join(BUILD, "sluice-sim"))
SVG = "{http://www.w3.org/2000/svg}"

# An outage of 10 minutes at one site among ten, watched.
OUTAGE = """\
seed 5
set sample_interval 30
destination d{0..9}.test service 0.5 jitter 0.5
destination p.test service 1 concurrency_cap 3 refuse from 10m until 20m
inject 600 among d{0..9}.test spread 40m
inject 400 to p.test spread 40m
watch p.test d0.test
run until 1h
report summary
"""

# Twenty sites, ten-second deliveries: what gets done in a minute depends
# on how many smtp agents may run.
AGENTS = """\
destination d{0..19}.test service 10
inject 200 among d{0..19}.test
run until 60
report summary
"""


def delivered(report):
    m = re.search(r"messages: injected (\d+), delivered (\d+)", report)
    assert m, report
    return int(m.group(2))


def test_render_svg(tmp_path):
    scn = tmp_path / "outage.scn"
    scn.write_text(OUTAGE)
    out = tmp_path / "out"
    out.mkdir()
    r = subprocess.run([SIM, "-o", str(out), "-g", str(scn)], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    plain = subprocess.run([SIM, str(scn)], capture_output=True, text=True, timeout=120)
    assert plain.stdout == r.stdout    # the time series change nothing

    with open(out / "queues.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 121               # 0, 30, ... 3600 s
    assert rows[-1]["time"] == "3600.000"
    assert max(int(x["deferred"]) for x in rows) > 0    # the outage's mail waited
    with open(out / "destinations.csv") as f:
        rows = list(csv.DictReader(f))
    assert max(int(x["p.test busy"]) for x in rows) <= 4
    assert any(x["p.test dead"] == "1" for x in rows)
    with open(out / "dead.csv") as f:
        dead = list(csv.DictReader(f))
    assert dead and all(d["destination"] == "p.test" for d in dead)
    assert all(600 <= float(d["from"]) < 1200 for d in dead)

    for name in ("queues.svg", "destinations.svg"):
        root = ET.parse(out / name).getroot()      # well-formed, or this raises
        assert root.tag == SVG + "svg"
        paths = root.findall(".//" + SVG + "path")
        assert len(paths) > 10, name
    text = (out / "destinations.svg").read_text()
    assert "p.test" in text and "d0.test" in text


def test_render_without_gnuplot(tmp_path):
    scn = tmp_path / "s.scn"
    scn.write_text(OUTAGE)
    r = subprocess.run([SIM, "-o", str(tmp_path), "-g", str(scn)], capture_output=True,
                       text=True, timeout=120, env={"PATH": str(tmp_path)})
    assert r.returncode == 1
    assert "cannot run gnuplot" in r.stderr
    assert (tmp_path / "plot.gp").exists()


def simulate(conf, scenario, *args):
    return subprocess.run([SLUICE, "-c", str(conf), "simulate", *args, str(scenario)],
                          capture_output=True, text=True, timeout=120)


def test_simulate_follows_the_configuration(tmp_path):
    scn = tmp_path / "agents.scn"
    scn.write_text(AGENTS)
    conf = tmp_path / "conf"
    conf.mkdir()

    r = simulate(conf, scn)                      # the defaults: 100 agents
    assert r.returncode == 0, r.stderr
    assert delivered(r.stdout) == 200

    (conf / "main.cf").write_text("default_process_limit = 2\n")
    r = simulate(conf, scn)
    assert r.returncode == 0, r.stderr
    assert delivered(r.stdout) == 10            # 2 agents, 5 rounds of 10 s

    # master.cf's maxproc for smtp wins over default_process_limit.
    master = subprocess.run([SLUICE, "-c", str(conf), "config", "-M"], capture_output=True,
                            text=True, timeout=60)
    assert master.returncode == 0, master.stderr
    lines = [re.sub(r"^(smtp\s+unix(\s+\S+){4})\s+\S+", r"\1 8", ln)
             for ln in master.stdout.splitlines()]
    (conf / "master.cf").write_text("\n".join(lines) + "\n")
    r = simulate(conf, scn)
    assert r.returncode == 0, r.stderr
    assert delivered(r.stdout) == 40            # 8 agents

    # A per-destination limit of main.cf: one delivery at a time per site.
    (conf / "master.cf").unlink()
    (conf / "main.cf").write_text("smtp_destination_concurrency_limit = 1\n")
    r = simulate(conf, scn)
    assert r.returncode == 0, r.stderr
    assert delivered(r.stdout) == 100           # 20 sites, 5 rounds

    # A scenario's set line acts as a main.cf line over the configuration.
    scn.write_text("set default_process_limit 4\n" + AGENTS)
    (conf / "main.cf").write_text("")
    r = simulate(conf, scn)
    assert r.returncode == 0, r.stderr
    assert delivered(r.stdout) == 20


def test_simulate_errors(tmp_path):
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "main.cf").write_text("default_process_limit = -3\n")
    scn = tmp_path / "s.scn"
    scn.write_text(AGENTS)
    r = simulate(conf, scn)
    assert r.returncode == 78
    assert "default_process_limit" in r.stderr
    r = subprocess.run([SLUICE, "simulate"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 64 and "usage" in r.stderr
    r = subprocess.run([SIM, "-o", str(tmp_path / "missing"), str(scn)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2 and "missing: No such file or directory" in r.stderr
    (conf / "main.cf").write_text("")
    scn.write_text("inject 5 to nowhere.test\n")
    r = simulate(conf, scn)
    assert r.returncode == 1
    assert "s.scn:1:" in r.stderr and "nowhere.test" in r.stderr
