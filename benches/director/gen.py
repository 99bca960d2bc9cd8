#!/usr/bin/env python3
"""benches/director/gen.py - write equivalent ldirectord.cf and keepalived.conf
files for the director benchmarks (run on the host, before the guest).

Addressing (test-net only): the VIP is 198.51.100.100, virtual v listens on
port 10000+v. Real k (k = v*10 + r) is address ADDRS[(k // 50) % 500] on port
8000 + k % 50, where ADDRS = 192.0.2.2-251 and 203.0.113.2-251 (all on one
interface of the "reals" namespace; one busybox httpd per port serves every
address). Special ports: 9001 = hung reals (httpd stopped with SIGSTOP),
9002.. = victims of the detection benchmark (one httpd each).

usage: gen.py OUTDIR
"""
import os
import sys

VIP = "198.51.100.100"
ADDRS = [f"192.0.2.{i}" for i in range(2, 252)] + [f"203.0.113.{i}" for i in range(2, 252)]


# busybox httpd listens with a backlog of 9: spread the reals over PORTS
# servers so that a burst of concurrent checks does not overflow one queue.
PORTS = 50


def real(k, port=None):
    if port is not None:  # a special port: one real per address
        return ADDRS[k % len(ADDRS)], port
    return ADDRS[(k // PORTS) % len(ADDRS)], 8000 + k % PORTS


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def ld_cf(virtuals, logfile, interval=1, timeout=3, checktype="negotiate"):
    out = [
        f"checktimeout={timeout}",
        f"negotiatetimeout={timeout}",
        f"checkinterval={interval}",
        "failurecount=1",
        "quiescent=no",
        "autoreload=no",
        f'logfile="{logfile}"',
        "",
    ]
    for v, reals in enumerate(virtuals):
        out.append(f"virtual={VIP}:{10000 + v}")
        for a, p in reals:
            out.append(f"\treal={a}:{p} masq 1")
        if checktype == "negotiate":
            out += [
                "\tservice=http",
                "\tchecktype=negotiate",
                '\trequest="health.html"',
                '\treceive="OK"',
            ]
        else:
            out.append(f"\tchecktype={checktype}")
        out += ["\tscheduler=rr", "\tprotocol=tcp", ""]
    return "\n".join(out)


def ka_conf(virtuals, interval=1, timeout=3, checked=True):
    # alpha: reals start down and enter the table after their first passing
    # check, as in ldirectord; retry 0 = fail at the first failed check
    # (failurecount=1); connect_timeout bounds the whole check (checktimeout).
    # Not checked (checktype=on's peer): a real_server without a checker is
    # up from the start, and no alpha.
    out = ["global_defs {", "  router_id ldrs_bench", "}", ""]
    for v, reals in enumerate(virtuals):
        out += [
            f"virtual_server {VIP} {10000 + v} {{",
            f"  delay_loop {interval}",
            "  lb_algo rr",
            "  lb_kind NAT",
            "  protocol TCP",
        ]
        if checked:
            out.append("  alpha")
        for a, p in reals:
            if not checked:
                out += [f"  real_server {a} {p} {{", "    weight 1", "  }"]
                continue
            out += [
                f"  real_server {a} {p} {{",
                "    weight 1",
                "    HTTP_GET {",
                "      url {",
                "        path /health.html",
                "        status_code 200",
                "      }",
                f"      connect_timeout {timeout}",
                "      retry 0",
                "      delay_before_retry 1",
                "    }",
                "  }",
            ]
        out += ["}", ""]
    return "\n".join(out)


def grid(n):
    return [[real(v * 10 + r) for r in range(10)] for v in range(n)]


def main():
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    sets = {}
    # The check interval grows with the size (1, 5, 15, 50 s): about 200
    # checks a second at every size, what the emulated guest sustains for
    # both daemons; an interval of 1 s at 10,000 reals would only measure
    # an overloaded guest.
    def interval(n):
        return max(1, n // 20)

    for n in (10, 100, 300, 1000):
        sets[f"start-{n}"] = (grid(n), interval(n))
    # detection: 20 x 10; r == 9 is hung (port 9001); victims r == 0 of
    # virtuals 2, 6, 10, 14, 18 on ports 9002..9006; the rest port 8000.
    det = []
    victims = []
    for v in range(20):
        reals = []
        for r in range(10):
            k = v * 10 + r
            if r == 9:
                reals.append(real(k, 9001))
            elif r == 0 and v % 4 == 2:
                port = 9002 + len(victims)
                victims.append(real(k, port))
                reals.append(real(k, port))
            else:
                reals.append(real(k))
        det.append(reals)
    sets["detect"] = (det, 1)
    with open(os.path.join(outdir, "victims.txt"), "w") as f:
        for a, p in victims:
            f.write(f"{a} {p}\n")
    # reload: B differs from A in one real (virtual 0, real 9 -> an unused one)
    for n in (10, 100, 300, 1000):
        a = grid(n)
        b = [list(x) for x in a]
        b[0][9] = real(n * 10 + 3000)  # an unused (address, port)
        sets[f"reloadA-{n}"] = (a, interval(n))
        sets[f"reloadB-{n}"] = (b, interval(n))
        with open(os.path.join(outdir, f"reload-{n}.txt"), "w") as f:
            f.write("%s %d %s %d\n" % (*a[0][9], *b[0][9]))
    sets["cap-100"] = (grid(100), 5)
    # throughput: every real due every second, more than one emulated core
    # checks, so what is measured is the director's ceiling.
    for n in (100, 1000):
        sets[f"thru-{n}"] = (grid(n), 1)
    # idle cost: 1,000 reals at checkinterval=10
    sets["idle-100"] = (grid(100), 10)
    # the floor's targets (examples/check_floor.rs): ADDRESS PORT per line
    for name in ("thru-100", "thru-1000", "idle-100"):
        with open(os.path.join(outdir, f"targets-{name}.txt"), "w") as f:
            for reals in sets[name][0]:
                for a, p in reals:
                    f.write(f"{a} {p}\n")
    for name, (virtuals, every) in sets.items():
        for impl in ("rs", "perl"):
            log = f"/tmp/ldbench/{impl}-{name}.log".replace("reloadA", "reload").replace("reloadB", "reload")
            write(os.path.join(outdir, f"{impl}-{name}.cf"), ld_cf(virtuals, log, every))
        write(os.path.join(outdir, f"ka-{name}.conf"), ka_conf(virtuals, every))
    # start-up with no check in the way: checktype=on (ours) and keepalived
    # real servers without a checker, at the start-up configs' intervals;
    # no server answers these (none is asked). The log goes to the guest's
    # RAM, as keepalived's console does in this benchmark.
    for n in (1000, 3000):
        virtuals = grid(n)
        log = f"/tmp/ldbench-ram/rs-on-{n}.log"
        write(os.path.join(outdir, f"rs-on-{n}.cf"), ld_cf(virtuals, log, interval(n), checktype="on"))
        write(os.path.join(outdir, f"ka-on-{n}.conf"), ka_conf(virtuals, interval(n), checked=False))
    ports = sorted({p for vs, _ in sets.values() for reals in vs for _, p in reals})
    with open(os.path.join(outdir, "ports.txt"), "w") as f:
        f.write(" ".join(str(p) for p in ports if p < 9000) + "\n")


if __name__ == "__main__":
    main()
