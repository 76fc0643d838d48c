/* Reading the appliance's settings and secrets under the root, for the
 * pages that show them. */
#ifndef PULLBOX_WIZARD_APPSTATE_H
#define PULLBOX_WIZARD_APPSTATE_H

#include <stddef.h>

struct settings;
struct secrets;

/* Either pointer may be NULL. 0, or -1 with err. */
int appstate_load(struct settings *st, struct secrets *sec, char *err, size_t errlen);

/* The address the Bitrix web server publishes to: the static address
 * without its prefix, else the address the admin reached the wizard on. */
void appstate_publish_host(const struct settings *st, const char *server_addr, char *out,
                           size_t outlen);

#endif
