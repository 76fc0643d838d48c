# First boot: everything unique to this appliance is generated here, once,
# on the data partition. Each item is made only if missing, so an interrupted
# first boot completes on the next one.
if [ ! -f /data/etc/firstboot-done ]; then
	msg "First boot: generating the keys of this appliance"
fi
umask 077
conf=/data/pullbox/pullbox.conf
tls=/data/pullbox/tls
# The admin's settings and this appliance's secrets are the source of truth;
# pullbox.conf and the other services' files are rendered from them by
# pullbox-apply (below, and after every change the wizard or console makes).
mkdir -p /data/config-ui/spool
chmod 0755 /data/config-ui # made under umask 077: www and admin pass through
chown root:config /data/config-ui/spool && chmod 1770 /data/config-ui/spool
# the wizard's state lives in /run/pullbox-wizard (sv/lighttpd); an older
# release's sessions on /data go (rm does not follow links in www's folder)
rm -rf /data/config-ui/state
# update bundles: the wizard's uploads (www's own folder; root opens a bundle
# there by a fixed name, never through a link), and a folder the admin or
# whoever mounts the data disk may drop bundles into
mkdir -p /data/config-ui/upload /data/updates
chown www:www /data/config-ui/upload && chmod 0700 /data/config-ui/upload
chown root:admin /data/updates && chmod 0770 /data/updates
# Before anything here reads or chowns a file: the folders and files root
# reads become root's again (mode, group), by descriptor and never through
# a link: the TLS folder root:pullbox 0750, the admin's home the admin's
# but .ssh and authorized_keys in it root:admin. A name in a folder another
# user can write is never handed to chown or chmod by this script.
pullbox-apply --fix-owners >>"$BOOTLOG" 2>&1 ||
	msg_error "pullbox-apply --fix-owners could not fix everything (see /data/log/boot.log)"
if [ ! -s /data/etc/secrets.conf ]; then
	# an appliance from before config-ui kept its key in pullbox.conf: keep it
	key=$(sed -n 's/^signature-key *= *//p' "$conf" 2>/dev/null)
	[ -n "$key" ] || key=$(pullboxd --print-config --generate-key | sed -n 's/^signature-key = //p')
	printf 'signature-key = %s\n' "$key" >/data/etc/secrets.conf.tmp &&
		mv /data/etc/secrets.conf.tmp /data/etc/secrets.conf && msg_ok "signature key: new"
fi
chown root:config /data/etc/secrets.conf && chmod 0640 /data/etc/secrets.conf
[ ! -f /data/etc/settings.conf ] || { chown root:config /data/etc/settings.conf && chmod 0640 /data/etc/settings.conf; }
# the message journal (persistent messages across restarts and reboots)
mkdir -p /data/pullbox/journal && chown pullbox:pullbox /data/pullbox/journal && chmod 0750 /data/pullbox/journal
# the TLS folder is root's (fixed above): nothing but root made what is in it
if [ ! -s "$tls/key.pem" ] || [ ! -s "$tls/cert.pem" ]; then
	pullboxd --make-cert "$tls/cert.pem" "$tls/key.pem" "$(hostname)" >/dev/null &&
		msg_ok "TLS certificate: new, self-signed"
fi
chown root:pullbox "$tls/cert.pem" "$tls/key.pem" && chmod 0640 "$tls/cert.pem" "$tls/key.pem"
# lighttpd (the wizard) reads the same certificate as root before it drops to www
if pullbox-apply --render >>"$BOOTLOG" 2>&1; then
	msg_ok "service settings rendered from /data/etc/settings.conf"
else
	msg_error "pullbox-apply --render failed (see /data/log/boot.log)"
fi
chown root:pullbox "$conf" 2>/dev/null && chmod 0640 "$conf"
for t in ed25519 ecdsa; do
	k=/data/ssh/dropbear_${t}_host_key
	if [ ! -s "$k" ]; then
		dropbearkey -t "$t" -f "$k" >/dev/null 2>&1 && msg_ok "SSH host key ($t): new"
	fi
done
[ -s /data/etc/shadow ] || { cp /usr/share/pullbox/defaults/shadow /data/etc/shadow; chmod 0600 /data/etc/shadow; }
[ -s /data/etc/firewall.conf ] || cp /usr/share/pullbox/defaults/firewall.conf /data/etc/firewall.conf
[ -s /data/etc/network.conf ] || cp /usr/share/pullbox/defaults/network.conf /data/etc/network.conf
# Settings that came with the VM (OVF environment, NoCloud seed): once, before
# the setup code, which is not made when the seed claimed the appliance.
[ -f /data/etc/firstboot-done ] || pullbox-seed 2>&1 | while IFS= read -r l; do
	case $l in skipped:*) msg_warn "seed: ${l#skipped: }" ;; *) msg_ok "seed: ${l#applied: }" ;; esac
done
[ -f /data/etc/firstboot-done ] || [ ! -f /data/etc/claimed ] || date -u +%Y-%m-%dT%H:%M:%SZ >/data/etc/firstboot-done
if [ ! -f /data/etc/firstboot-done ]; then
	# The one-time code the setup wizard asks for (shown on the console only).
	code=$(tr -dc 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789' </dev/urandom | head -c 12)
	printf '%s-%s-%s\n' "$(echo "$code" | cut -c1-4)" "$(echo "$code" | cut -c5-8)" \
		"$(echo "$code" | cut -c9-12)" >/data/etc/setup-code
	chown root:config /data/etc/setup-code && chmod 0640 /data/etc/setup-code
	sync
	date -u +%Y-%m-%dT%H:%M:%SZ >/data/etc/firstboot-done
	sync
	msg_ok "setup code: new (shown on the console until the wizard has run)"
fi
umask 022
