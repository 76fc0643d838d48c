# The data partition holds every setting, key and log: mount it at /data.
# Without it the appliance still starts (on a tmpfs), but says so loudly.
msg "Mounting the data partition"
datadev=$(partition_by_name pullbox-data)
if [ -n "$datadev" ] && mount -t ext4 -o noatime,nodev,nosuid "$datadev" /data; then
	msg_ok "$datadev on /data"
else
	msg_error "no usable data partition (GPT name pullbox-data): settings will NOT persist"
	mount -t tmpfs -o mode=0755,size=64m data /data
	: >/run/pullbox-data-volatile
fi
mkdir -p /data/etc /data/pullbox/tls /data/ssh /data/log /data/home
chmod 0700 /data/ssh
