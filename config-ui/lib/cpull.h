/* The CPullOptions values the Bitrix site needs for this appliance
 * (docs/protocol.md §1.1 and §5.2), derived from
 * the settings and the signing key, never typed twice, in the three forms an
 * admin can use: the values of the pull module's settings page, a
 * .settings.php 'pull' block, and a PHP snippet of CPullOptions::Set... calls. */
#ifndef PULLBOX_CFG_CPULL_H
#define PULLBOX_CFG_CPULL_H

#include <stddef.h>
#include <stdio.h>

struct settings;
struct secrets;

#define CPULL_MAX_OPTIONS 24
#define CPULL_VALUE_MAX 512

struct cpull_option {
    const char *name;   /* option name: "path_to_publish" */
    const char *label;  /* the field as the pull module's settings page names it */
    const char *setter; /* "SetPublishUrl", or NULL when CPullOptions has none */
    char value[CPULL_VALUE_MAX];
};

/* Fills out[] and returns the count. publish_host is the appliance address
 * the Bitrix web server publishes to (the static address, or the current
 * DHCP address; a host name is accepted). */
size_t cpull_options(const struct settings *st, const struct secrets *sec, const char *publish_host,
                     struct cpull_option *out, size_t max);

/* The 'pull' => array('value' => array(...), 'readonly' => false) block of
 * bitrix/.settings.php, PHP-escaped ('\'' and '\\'). */
void cpull_write_settings_php(const struct cpull_option *o, size_t n, FILE *out);
/* "CPullOptions::SetPublishUrl('...');" lines, plus COption::SetOptionString
 * for options without a setter; then SetConfigTimestamp(). */
void cpull_write_php_calls(const struct cpull_option *o, size_t n, FILE *out);

#endif
