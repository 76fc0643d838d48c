/* Settings that come with the VM instead of the wizard, read once at first
 * boot: an OVF environment (ovf-env.xml on the ISO a hypervisor attaches,
 * holding the values of the OVA's ProductSection properties) or a cloud-init
 * NoCloud seed (meta-data, user-data, network-config on a CIDATA volume).
 *
 * The parsers only pick out the values they know, as text: every value is
 * then validated by the settings library and applied by pullbox-apply
 * (--seed), exactly as a value typed into the wizard. They read a strict
 * subset of each format and refuse what they do not understand (a DOCTYPE,
 * YAML anchors or block scalars where a value is wanted) instead of
 * guessing. */
#ifndef PULLBOX_CFG_SEED_H
#define PULLBOX_CFG_SEED_H

#include "settings.h"

#include <stddef.h>

#define SEED_FILE_MAX (64 * 1024) /* bytes per seed file: larger is refused */
#define SEED_ITEMS_MAX 32
#define SEED_NOTES_MAX 24
#define SEED_NOTE_MAX 200
#define SEED_NAME_MAX 64

/* What a value is for. */
enum seed_what {
    SEED_SETTING,       /* a settings key (setting) */
    SEED_ADMIN_HASH,    /* the admin's password, as a crypt(3) hash */
    SEED_SSH_KEY,       /* one authorized_keys line for the admin */
    SEED_SIGNATURE_KEY, /* the signing key shared with the Bitrix site */
};

struct seed_item {
    enum seed_what what;
    int setting;              /* SEED_SETTING: enum setting_id */
    char name[SEED_NAME_MAX]; /* where it came from, for messages: "user-data hostname" */
    char value[SETTING_VALUE_MAX];
};

struct seed {
    struct seed_item items[SEED_ITEMS_MAX];
    size_t nitems;
    /* what was refused or left out, one line each, for the console */
    char notes[SEED_NOTES_MAX][SEED_NOTE_MAX];
    size_t nnotes;
};

/* The names of the OVF properties (and the OVA's ProductSection keys)
 * besides the settings keys themselves. */
#define SEED_KEY_ADMIN_HASH "admin.password-hash"
#define SEED_KEY_SSH_KEY "admin.ssh-key"
#define SEED_KEY_SIGNATURE "site.signature-key"
#define SEED_SIGNATURE_GENERATE "generate"

void seed_init(struct seed *s);
/* Adds a value (a note instead when it is too long or the list is full). */
void seed_add(struct seed *s, enum seed_what what, int setting, const char *name, const char *value,
              size_t len);
void seed_note(struct seed *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ovf-env.xml: the Property elements of the Environment's own
 * PropertySection (not those of nested Entity sections). An empty value
 * is a property the admin left blank: skipped. Returns 0, or -1 when the
 * document cannot be used at all (a note says why). */
int seed_parse_ovf(struct seed *s, const char *xml, size_t len);

/* NoCloud: meta-data (local-hostname), user-data (#cloud-config: hostname,
 * fqdn, ssh_authorized_keys, password as a crypt hash) and network-config
 * (version 2: the first ethernet's dhcp4, addresses, gateway4 or default
 * route, nameservers; version 1, as Proxmox writes it: the first physical
 * interface's first IPv4 subnet and the name servers). Any of them may be NULL. Returns 0, or -1
 * when nothing could be used. */
int seed_parse_nocloud(struct seed *s, const char *meta, size_t metalen, const char *user,
                       size_t userlen, const char *net, size_t netlen);

#endif
