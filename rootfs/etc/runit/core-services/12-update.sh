# System slots: the ESP is mounted read-only at /run/pullbox-esp; a trial
# boot that did not commit is noted (we are back on the previous slot), the
# slots' state goes to the boot log, and a bundle left in /data/update is
# installed (pullbox-update).
pullbox-update boot
pullbox-update status 2>/dev/null | while IFS= read -r l; do msg_ok "update: $l"; done
pullbox-update inbox
