# The data partition holds every setting, key and log: mount it at /data.
# Without it the appliance still starts (on a tmpfs), but says so loudly.
msg "Mounting the data partition"
datadev=$(partition_by_name pullbox-data)
# The filesystem's reserved blocks go to root, user pullbox (resuid: its
# journal) and group www (resgid: the wizard's requests in the spool), set at
# every mount, so older data partitions get it too. The admin and redis get
# neither: when the admin's home or a hub's Redis fill /data, publishes are
# still journaled and settings still save. (One user and one group is all
# ext4 takes; BusyBox chpst cannot add a shared supplementary group.)
res=$(id -u pullbox 2>/dev/null) && res=",resuid=$res" || res=
g=$(id -g www 2>/dev/null) && res="$res,resgid=$g"
if [ -n "$datadev" ] && mount -t ext4 -o "noatime,nodev,nosuid$res" "$datadev" /data; then
	msg_ok "$datadev on /data"
	# an enlarged virtual disk: the data partition and its filesystem grow
	# to fill it (checked every boot; nothing is written when they fill it)
	if grown=$(pullbox-growdata "$datadev" /data 2>&1); then
		printf '%s\n' "$grown" | while IFS= read -r l; do msg_ok "$l"; done
	else
		msg_warn "the data partition was not grown: $grown"
	fi
else
	msg_error "no usable data partition (GPT name pullbox-data): settings will NOT persist"
	mount -t tmpfs -o mode=0755,size=64m data /data
	: >/run/pullbox-data-volatile
fi
# Factory reset (asked for from the console or the wizard; the apply service
# leaves this mark and reboots): everything on the data partition goes, so
# this boot is a first boot again with new keys and a new setup code.
if [ -f /data/etc/factory-reset ]; then
	msg "Factory reset: wiping the data partition"
	rm -rf /data/* /data/.[!.]* 2>/dev/null
	if [ -f /data/etc/factory-reset ]; then
		msg_error "the data partition could not be wiped"
	else
		msg_ok "the data partition is empty"
	fi
	sync
fi
mkdir -p /data/etc /data/pullbox/tls /data/ssh /data/log /data/home
chmod 0700 /data/ssh
