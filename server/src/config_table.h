/* The table of pullbox.conf keys (config_table.c): one row per key. */
#ifndef PULLBOX_CONFIG_TABLE_H
#define PULLBOX_CONFIG_TABLE_H

#include "first.h"

enum config_opt_type { CONFIG_OPT_STR, CONFIG_OPT_INT, CONFIG_OPT_ENUM, CONFIG_OPT_PATH };

/* read at start only: a SIGHUP that changes it keeps the running value and
 * says so; config-ui restarts pullboxd instead of reloading it */
#define CONFIG_OPT_RESTART (1u << 0)

struct config_opt {
    const char *name;
    enum config_opt_type type;
    size_t offset;            /* of the field in struct config */
    long min, max;            /* CONFIG_OPT_INT bounds */
    const char *const *names; /* CONFIG_OPT_ENUM values, index = stored int */
    const char *def;          /* default, as it would be written in the file */
    const char *help;
    unsigned flags; /* CONFIG_OPT_RESTART */
};

/* Every row, in the order --print-config writes them; *n gets the count. */
const struct config_opt *config_opts(size_t *n);
/* The row of key name, or NULL when there is none. */
const struct config_opt *config_opt_find(const char *name);
/* Whether pullboxd reads key name only at its start (false for unknown keys). */
bool config_key_restart_only(const char *name);

#endif
