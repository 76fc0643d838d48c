# Drivers of the devices present (NICs, balloon, rng), then the netfilter
# modules the firewall needs. The initramfs already loaded the storage set.
msg "Loading kernel modules"
coldplug
modprobe -qa ip_tables iptable_filter ip6_tables ip6table_filter nf_conntrack \
	xt_conntrack xt_tcpudp xt_multiport xt_comment nf_reject_ipv4 nf_reject_ipv6 \
	ipt_REJECT ip6t_REJECT iptable_raw ip6table_raw xt_CT xt_hashlimit xt_connlimit 2>/dev/null || msg_warn "some netfilter modules did not load"
