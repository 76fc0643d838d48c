/* The settings groups: which settings the wizard's pages and the console's
 * menu items show together, and in what order. Both front ends take their
 * fields from this one table, so a new setting is one row in the settings
 * table (settings.c) plus its id in one group here, and both show it;
 * tests/unit/config-ui/test_groups.c fails when a setting is in no group or
 * in two. */
#ifndef PULLBOX_CFG_GROUPS_H
#define PULLBOX_CFG_GROUPS_H

#include "settings.h"

#include <stddef.h>

#define SETTING_GROUP_MAX 8 /* settings in one group */

enum setting_group_id {
    G_NETWORK,  /* wizard /network, console item 2 */
    G_SITE,     /* wizard /site, console item 9 */
    G_KEY,      /* wizard /keys, console item 3 */
    G_FIREWALL, /* wizard /firewall, console item 5 */
    G_SSH,      /* wizard /ssh, console item 10 */
    G_CLUSTER,  /* wizard /cluster, console item 14 */
    G_INTERNAL, /* set by the apply service alone: no page or menu shows them */
    G__COUNT
};

struct setting_group {
    const char *id;    /* "site": the wizard's page is /<id> */
    const char *title; /* "Bitrix site": the page's title, the console's heading */
    enum setting_id ids[SETTING_GROUP_MAX];
    size_t n;
};

extern const struct setting_group setting_groups[G__COUNT];

/* The group that holds id, or -1 (a setting no group lists: a bug the unit
 * test catches). */
int setting_group_of(enum setting_id id);

#endif
