/* A bound on the password hashes the wizard computes at once. A yescrypt
 * check takes about 19 MB for a fraction of a second; lighttpd starts one
 * CGI process per request, so without a bound a burst of logins (from many
 * addresses, each within its own limit) can push a 1 GiB appliance into the
 * OOM killer. HASHSLOT_COUNT files under PATH_STATE are the slots: a process
 * holds one by flock while it hashes (the kernel lets go if it dies), and
 * waits up to HASHSLOT_WAIT_MS for one to come free. */
#ifndef PULLBOX_WIZARD_HASHSLOT_H
#define PULLBOX_WIZARD_HASHSLOT_H

#define HASHSLOT_COUNT 2 /* the appliance's CPUs: more would only queue in the kernel */
#define HASHSLOT_WAIT_MS 10000

/* Takes a slot, waiting up to wait_ms. The slot's fd (give it back with
 * hashslot_release), or -1 when none came free in time. */
int hashslot_acquire(long wait_ms);

/* Gives the slot back; -1 is ignored. */
void hashslot_release(int fd);

#endif
