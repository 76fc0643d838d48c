# First boot: everything unique to this appliance is generated here, once,
# on the data partition. Each item is made only if missing, so an interrupted
# first boot completes on the next one.
if [ ! -f /data/etc/firstboot-done ]; then
	msg "First boot: generating the keys of this appliance"
fi
umask 077
conf=/data/pullbox/pullbox.conf
tls=/data/pullbox/tls
if [ ! -s "$conf" ]; then
	pullboxd --print-config --generate-key |
		sed -e "s|^tls-certificate = .*|tls-certificate = $tls/cert.pem|" \
			-e "s|^tls-key = .*|tls-key = $tls/key.pem|" \
			-e "s|^journal-path = .*|journal-path = /data/pullbox/journal|" \
			-e "s|^journal-max-size = .*|journal-max-size = 256|" >"$conf.tmp" &&
		mv "$conf.tmp" "$conf" && msg_ok "signature key: new"
fi
chown root:pullbox "$conf" && chmod 0640 "$conf"
# the message journal (persistent messages across restarts and reboots)
mkdir -p /data/pullbox/journal && chown pullbox:pullbox /data/pullbox/journal && chmod 0750 /data/pullbox/journal
if [ ! -s "$tls/key.pem" ] || [ ! -s "$tls/cert.pem" ]; then
	pullboxd --make-cert "$tls/cert.pem" "$tls/key.pem" "$(hostname)" >/dev/null &&
		msg_ok "TLS certificate: new, self-signed"
fi
chown -R pullbox:pullbox "$tls" && chmod 0750 "$tls" && chmod 0640 "$tls/key.pem" && chmod 0644 "$tls/cert.pem"
for t in ed25519 ecdsa; do
	k=/data/ssh/dropbear_${t}_host_key
	if [ ! -s "$k" ]; then
		dropbearkey -t "$t" -f "$k" >/dev/null 2>&1 && msg_ok "SSH host key ($t): new"
	fi
done
[ -s /data/etc/shadow ] || { cp /usr/share/pullbox/defaults/shadow /data/etc/shadow; chmod 0600 /data/etc/shadow; }
[ -s /data/etc/firewall.conf ] || cp /usr/share/pullbox/defaults/firewall.conf /data/etc/firewall.conf
[ -s /data/etc/network.conf ] || cp /usr/share/pullbox/defaults/network.conf /data/etc/network.conf
if [ ! -f /data/etc/firstboot-done ]; then
	# The one-time code the setup wizard asks for (shown on the console only).
	code=$(tr -dc 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789' </dev/urandom | head -c 12)
	printf '%s-%s-%s\n' "$(echo "$code" | cut -c1-4)" "$(echo "$code" | cut -c5-8)" \
		"$(echo "$code" | cut -c9-12)" >/data/etc/setup-code
	chmod 0600 /data/etc/setup-code
	sync
	date -u +%Y-%m-%dT%H:%M:%SZ >/data/etc/firstboot-done
	sync
	msg_ok "setup code: new (shown on the console until the wizard has run)"
fi
umask 022
