# The firewall is in place before any daemon starts.
msg "Applying the firewall"
if ! pullbox-firewall apply 2>>"$BOOTLOG"; then
	msg_error "the firewall rules did not apply: closing everything but the queue ports"
	pullbox-firewall lockdown 2>>"$BOOTLOG"
else
	msg_ok "IPv4 and IPv6 rules from /data/etc/firewall.conf"
fi
