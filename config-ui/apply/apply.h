/* pullbox-apply: the root-owned service that validates and applies the
 * change requests of the wizard and the console (spool.h). Each operation
 * fills a result; nothing it is given reaches a shell. */
#ifndef PULLBOX_APPLY_H
#define PULLBOX_APPLY_H

#include "render.h"
#include "secrets.h"
#include "settings.h"
#include "spool.h"

#include <stdbool.h>

#define PROG "pullbox-apply"

/* Work that must wait until the result is written: the wizard runs under
 * lighttpd, and a reboot ends everything. */
enum apply_later {
    LATER_NONE = 0,
    LATER_LIGHTTPD = 1u << 0, /* sv restart lighttpd */
    LATER_REBOOT = 1u << 1,   /* <root>/sbin/reboot */
    LATER_POWEROFF = 1u << 2, /* <root>/sbin/poweroff */
};

struct apply {
    const char *id;         /* the request's spool id */
    long gid;               /* group of the spool folder: settings and secrets get it */
    double confirm_timeout; /* seconds a network change waits for network-confirm */
    long long now;          /* unix time of the request */
    unsigned later;         /* enum apply_later bits */
    bool rolling_back;      /* a network trial is being undone */
    bool restart_pullboxd;  /* pullbox.conf changed a key pullboxd reads only at start */
    bool first_boot;        /* stage 1 (--seed): no service runs yet, none is followed */
};

/* ---- results (main.c) ---- */
__attribute__((format(printf, 4, 5))) void step(struct result *res, bool ok, const char *what,
                                                const char *fmt, ...);
/* Refuses the request: res->ok false, message, field (-1 for none). */
__attribute__((format(printf, 3, 4))) void refuse(struct result *res, int field, const char *fmt,
                                                  ...);
void apply_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A request's context as the service makes it (main.c). */
void apply_init(struct apply *a);
/* pullbox-apply --seed (seed.c). */
int seed_main(int argc, char **argv);

/* ---- services (services.c) ---- */
/* sv <verb> <root>/var/service/<name>, as a step. */
bool service_sv(struct result *res, const char *verb, const char *name);
/* HUP pullboxd, or restart it when it is down or a->restart_pullboxd. */
bool service_reload_pullboxd(struct result *res);
/* Reloads or restarts what each changed file feeds. */
void service_follow(struct apply *a, const bool changed[RF__COUNT], struct result *res);
/* Runs the deferred work (fork; the child waits 1 s, then execs). */
void service_run_later(unsigned later);
bool service_exists(const char *name);

/* ---- the state (state.c) ---- */
/* Loads settings and secrets; on error refuses res and returns -1. */
int state_load(struct settings *st, struct secrets *sec, struct result *res);
/* Writes the settings and/or the secrets (as the flags say), renders every
 * file from st and sec and follows the changes; a network change starts a
 * trial (unless a->rolling_back). Returns 0, or -1 when a write failed. */
int state_commit(struct apply *a, const struct settings *st, const struct secrets *sec,
                 bool write_settings, bool write_secrets, struct result *res);
/* A hub's Redis password, made the first time the role is hub (kept after,
 * so the nodes keep theirs when the role goes back and forth). Returns 1
 * when sec got a new one, 0 when nothing was needed, -1 without random
 * bytes. */
int state_cluster_secrets(const struct settings *st, struct secrets *sec);
/* On a hub, makes its CA and its Redis certificate when they are missing
 * (hubca.h; kept when the role changes, so the nodes' pin stays good).
 * Returns 1 when made, 0 when nothing was needed, -1 with err. */
int hub_tls_ensure(const struct settings *st, char *err, size_t errlen);
/* Writes the admin hash into the shadow file. */
int state_write_shadow(const char *hash, long long now, struct result *res);

/* ---- network trial (network.c) ---- */
/* Called before a commit that changes the network: remembers old as the
 * state to roll back to (unless a trial is already running). */
int network_trial_start(struct apply *a, const struct settings *old, struct result *res);
/* Rolls back when the trial's deadline passed. */
void network_tick(struct apply *a);

/* ---- operations (op_*.c) ---- */
typedef void op_fn(struct apply *a, const struct request *r, struct result *res);
op_fn op_settings, op_network_confirm, op_rotate_key, op_claim, op_password, op_ssh_key_add,
    op_ssh_key_remove, op_cert_upload, op_cert_self_signed, op_service, op_factory_reset, op_reboot,
    op_poweroff, op_restore, op_backup, op_ssh_key_list, op_update_status, op_update_install;

/* ---- ownership (owners.c) ---- */
/* Makes the folders and files root reads root's, with their modes and
 * groups (config_gid: the group of settings, secrets and the setup code),
 * through descriptors only. 0, or -1 when something could not be fixed
 * (logged). */
int owners_fix(long config_gid);

/* Drops the previous signing key once its grace period is over. */
void keys_tick(struct apply *a);
/* Validates an authorized_keys file (one key a line); 0 or -1 with err. */
int ssh_keys_check(const char *data, size_t len, char *err, size_t errlen);
/* Writes authorized_keys (root:admin 0640 on the appliance). */
int ssh_keys_write(const char *data, size_t len, struct result *res);
/* Opens the admin's .ssh as a real folder root:admin 0750 (made, or taken
 * back from a link or a file); the descriptor, or -1 with err. */
int ssh_dir_open(char *err, size_t errlen);
/* Writes the TLS files; chain may be "" (then chain.pem is removed). */
int cert_install(const char *cert, const char *key, const char *chain, struct result *res);

/* Copies cert.pem (public) to PATH_TLS_PUBLIC, root's 0644, for the wizard
 * and the console; no certificate: no copy. After every change of the
 * certificate, and at boot (--render). Returns 0 or -1 with err. */
int cert_publish(char *err, size_t errlen);

#endif
