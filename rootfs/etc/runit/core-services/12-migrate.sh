# The data partition's schema: a data partition from an older release is
# migrated to this system's before anything reads a setting; one from a newer
# release (after a rollback) is never migrated down (pullbox-migrate says
# what it does instead). The console shows what happened.
if out=$(pullbox-migrate 2>&1); then rc=0; else rc=$?; fi
# its warnings stay on the console's banner (pullbox-banner) too
printf '%s\n' "$out" | sed -n 's/^WARNING: //p' >/run/pullbox-migrate.warn
printf '%s\n' "$out" | while IFS= read -r l; do
	case $l in
	'') ;;
	WARNING:*) msg_warn "${l#WARNING: }" ;;
	*) msg_ok "$l" ;;
	esac
done
[ $rc = 0 ] || msg_warn "the data partition is not at this system's schema (pullbox-migrate exit $rc; /data/log/boot.log)"
unset out rc
