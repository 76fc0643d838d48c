#!/usr/bin/env python3
"""Usage: packer/port-base.py

Prints a port base B (a multiple of 1000 in 20000-59000) such that the
127.0.0.1 ports B+22, B+443, B+893 and B+894 that pullbox.pkr.hcl forwards
are free now, so that the Packer boot check does not collide with another
server on the machine. Exit 1 if none is found."""
import random
import socket
import sys

OFFSETS = (22, 443, 893, 894)


def free(base):
    socks = []
    try:
        for off in OFFSETS:
            socks.append(socket.create_server(("127.0.0.1", base + off)))
        return True
    except OSError:
        return False
    finally:
        for s in socks:
            s.close()


bases = list(range(20000, 60000, 1000))
random.shuffle(bases)
for b in bases:
    if free(b):
        print(b)
        sys.exit(0)
sys.exit(1)
