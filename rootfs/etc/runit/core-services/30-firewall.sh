# The firewall is in place before any daemon listens. pullbox-firewall
# loads each family's rules atomically; a family whose rules do not load
# falls back alone to the lockdown (only 22 and 443 from the admin
# networks), then to closed. When no rule set loads at all (netfilter
# modules missing), the daemons' run scripts see it ("pullbox-firewall
# may-listen PORT") and wait, so the queue ports stay closed.
msg "Applying the firewall"
# connection tracking sized by memory as pullboxd's descriptors are (its run
# script: one per 7.5 KiB; an entry is 256 B), 131072 at least, four entries
# a hash bucket; idle subscribers are pinged, so an hour without a packet is
# a dead peer (the kernel's default keeps such entries for 5 days)
mib=0
while read -r k v _; do [ "$k" = MemTotal: ] && mib=$((v / 1024)); done </proc/meminfo
ct=$((mib * 136))
[ "$ct" -lt 131072 ] && ct=131072
echo $((ct / 4)) >/sys/module/nf_conntrack/parameters/hashsize 2>/dev/null
sysctl -qw net.netfilter.nf_conntrack_max=$ct 2>/dev/null
sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_established=3600 2>/dev/null
if pullbox-firewall apply 2>/run/pullbox-firewall.err; then
	msg_ok "IPv4 and IPv6 rules from /data/etc/firewall.conf"
else
	cat /run/pullbox-firewall.err >>"$BOOTLOG"
	msg_error "the firewall rules did not load (details: /data/log/boot.log)"
	grep '^IPv[46]: ' /run/pullbox-firewall.err | while read -r line; do
		msg_error "$line"
	done
fi
