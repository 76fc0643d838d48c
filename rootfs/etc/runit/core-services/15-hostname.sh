# Hostname: /data/etc/hostname, else "pullbox".
h=$(cat /data/etc/hostname 2>/dev/null)
hostname "${h:-pullbox}"
ip link set lo up
