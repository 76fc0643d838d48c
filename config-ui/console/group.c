/* A settings group (lib/groups.h) on the console: its settings listed with
 * their values, and one of them changed through the one validator. The
 * items that own a group show and change it only through these, so a
 * setting added to a group shows up in its menu item as in its wizard page. */
#include <stdio.h>

#include "console.h"

void con_group_print(enum setting_group_id g, const struct settings *st)
{
    const struct setting_group *grp = &setting_groups[g];
    for (size_t i = 0; i < grp->n; i++) {
        enum setting_id id = grp->ids[i];
        printf("  %-36s %s\n", setting_defs[id].label, st->v[id][0] ? st->v[id] : "(empty)");
    }
    printf("\n");
}

bool con_group_change(enum setting_group_id g, struct settings *st, con_ask_fn *ask)
{
    const struct setting_group *grp = &setting_groups[g];
    char prompt[96];
    int which = 1;

    if (grp->n == 0)
        return false;
    if (grp->n > 1) {
        for (size_t i = 0; i < grp->n; i++)
            printf("  %zu  %s\n", i + 1, setting_defs[grp->ids[i]].label);
        snprintf(prompt, sizeof prompt, "Change which (1-%zu, q to go back)? ", grp->n);
        if (!con_ask_number(prompt, (int)grp->n, &which))
            return false;
    }
    enum setting_id id = grp->ids[which - 1];
    return ask ? ask(st, id) : con_ask_setting(st, id);
}

void con_group_edit(enum setting_group_id g, const struct settings *old, const char *question)
{
    static struct settings st;
    st = *old;
    if (!con_group_change(g, &st, NULL)) {
        printf("Nothing was changed.\n");
        return;
    }
    if (con_review(old, &st, false, question))
        con_send_settings(&st, NULL);
}
