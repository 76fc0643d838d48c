/* Menu item 1: every service's runit state in full, then the self-test (the
 * Bitrix site checker's round trip against this appliance's own ports). */
#include <stdio.h>

#include "console.h"
#include "secrets.h"
#include "selftest.h"
#include "settings.h"
#include "status.h"

static void print_services(void)
{
    static struct appliance_status st;
    status_read(&st, CON_PUBLISH_PORT, 1.0);
    printf("Services:\n");
    for (size_t i = 0; i < st.nservices; i++)
        printf("  %-16s %s\n", st.services[i].name, st.services[i].text);
    if (st.metrics_ok)
        printf("pullboxd: %lld connections, %lld channels, %lld messages, %.1f messages/s\n",
               st.connections, st.channels, st.messages_total, st.messages_per_second);
}

void action_status(void)
{
    static struct settings st;
    static struct secrets sec;
    struct selftest_step steps[SELFTEST_MAX_STEPS];
    print_services();
    if (!con_load(&st, &sec))
        return;
    struct selftest_opts o = {
        .host = "127.0.0.1",
        .subscribe_port = 8893,
        .subscribe_tls_port = 8894,
        .publish_port = CON_PUBLISH_PORT,
        .signature_key = sec.signature_key,
        .signature_algo = st.v[S_SITE_SIGNATURE_ALGO],
        .timeout = 5.0,
    };
    printf("\nSelf-test (a few seconds)...\n");
    fflush(stdout);
    size_t n = selftest_run(&o, steps, SELFTEST_MAX_STEPS);
    size_t good = 0;
    for (size_t i = 0; i < n; i++) {
        printf("  [%s] %s: %s\n", steps[i].ok ? " ok " : "FAIL", steps[i].what, steps[i].detail);
        good += steps[i].ok;
    }
    printf("Self-test: %zu of %zu steps passed%s\n", good, n, good == n ? "." : ": see above.");
}
