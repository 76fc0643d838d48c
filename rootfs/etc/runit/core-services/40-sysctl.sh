# Kernel settings for a queue server with many idle connections.
sysctl -qw net.core.somaxconn=4096
sysctl -qw net.ipv4.tcp_max_syn_backlog=4096
sysctl -qw net.ipv4.ip_local_port_range="10240 65000"
# a million subscriber sockets (pullboxd's run script allows up to 1048576
# descriptors on 8 GiB) and everything else
sysctl -qw fs.file-max=2097152
sysctl -qw kernel.panic=10
# A cluster hub's Redis forks to rewrite its append-only file; with the
# heuristic default a large Redis may fail that fork (Redis warns at start).
sysctl -qw vm.overcommit_memory=1
# SysRq: console keyboard/serial only (no network path). 1 = all functions,
# the same trust as the hypervisor console that can reset the VM anyway.
sysctl -qw kernel.sysrq=1
