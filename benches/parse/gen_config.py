#!/usr/bin/env python3
"""Write an ldirectord.cf with N virtual services of R reals each (test-net
addresses only) to stdout: the parser benchmark's large input."""
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
reals = int(sys.argv[2]) if len(sys.argv) > 2 else 4
print("checktimeout=3\nnegotiatetimeout=5\ncheckinterval=5\nquiescent=yes\n")
nets = ["192.0.2", "198.51.100", "203.0.113"]
for i in range(n):
    vip = f"{nets[i % 3]}.{i % 250 + 1}"
    port = 1024 + i // 3
    print(f"virtual={vip}:{port}")
    for r in range(reals):
        rip = f"{nets[(i + 1) % 3]}.{(i + r) % 250 + 1}"
        print(f"\treal={rip}:{port} masq {r + 1}")
    print("\tservice=http")
    print('\trequest="health.html"')
    print('\treceive="OK"')
    print("\tscheduler=wlc")
    print("\tprotocol=tcp")
    print("\tchecktype=negotiate")
    print()
