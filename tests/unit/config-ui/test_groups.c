/* Unit tests for config-ui/lib/groups.c: the table both front ends take
 * their fields from. A setting in no group would be shown by neither the
 * wizard nor the console; one in two groups would be edited in two places
 * that drift apart. Either fails here. */
#include "groups.h"

#include "tap.h"

#include <stdio.h>
#include <string.h>

static char what[256];
#define okf(cond, ...) (snprintf(what, sizeof(what), __VA_ARGS__), ok(cond, what))

static void test_every_setting_once(void)
{
    int seen[S__COUNT] = {0};

    for (int g = 0; g < G__COUNT; g++)
        for (size_t i = 0; i < setting_groups[g].n; i++) {
            enum setting_id id = setting_groups[g].ids[i];
            if ((int)id >= 0 && id < S__COUNT)
                seen[id]++;
            else
                okf(0, "group %s lists an id that is no setting (%d)", setting_groups[g].id,
                   (int)id);
        }
    for (int id = 0; id < S__COUNT; id++) {
        okf(seen[id] == 1, "%s is in exactly one group (in %d)", setting_defs[id].key, seen[id]);
        int g = setting_group_of((enum setting_id)id);
        okf(g >= 0 && g < G__COUNT, "setting_group_of(%s) finds it", setting_defs[id].key);
    }
}

static void test_groups_well_formed(void)
{
    for (int g = 0; g < G__COUNT; g++) {
        const struct setting_group *grp = &setting_groups[g];
        okf(grp->id && grp->id[0] && strspn(grp->id, "abcdefghijklmnopqrstuvwxyz-") ==
                                           strlen(grp->id),
           "group %d has an id fit for a wizard path (%s)", g, grp->id ? grp->id : "(none)");
        okf(grp->title && grp->title[0], "group %s has a title", grp->id);
        okf(grp->n <= SETTING_GROUP_MAX, "group %s fits its array", grp->id);
        okf(g == G_INTERNAL || grp->n > 0, "group %s shows at least one setting", grp->id);
        for (int h = 0; h < g; h++)
            okf(strcmp(setting_groups[h].id, grp->id) != 0, "groups %d and %d differ in id", h, g);
    }
}

/* The group of a setting is the page and the menu item that show it. */
static void test_known_places(void)
{
    ok(setting_group_of(S_SITE_PUBLIC_NAME) == G_SITE && setting_group_of(S_SITE_VERSION) == G_SITE &&
           setting_group_of(S_SITE_SIGNATURE_ALGO) == G_SITE,
       "the public name, the version and the signature algorithm are the site's");
    ok(setting_group_of(S_SSH_KEY_ONLY) == G_SSH, "key-only is the SSH page's");
    ok(setting_groups[G_NETWORK].ids[0] == S_HOSTNAME, "the network group starts with the host name");
}

int main(void)
{
    test_every_setting_once();
    test_groups_well_formed();
    test_known_places();
    return done_testing();
}
