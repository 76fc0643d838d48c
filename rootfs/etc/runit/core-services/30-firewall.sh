# The firewall is in place before any daemon starts.
msg "Applying the firewall"
if ! pullbox-firewall apply; then
	msg_error "the firewall rules did not apply: closing everything but the queue ports"
	pullbox-firewall lockdown
fi
