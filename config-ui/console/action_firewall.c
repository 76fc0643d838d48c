/* Menu item 5: the firewall. The rules shown are the ones pullbox-firewall
 * renders from the settings (the same output the wizard shows); the
 * counters come from the running kernel; a network is allowed or removed by
 * changing one list setting, validated by settings_set() as a whole list. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "console.h"
#include "render.h"
#include "root.h"
#include "settings.h"

static const enum setting_id fw_lists[] = {S_FW_SUBSCRIBE_NETWORKS, S_SITE_PUBLISHERS,
                                           S_FW_ADMIN_NETWORKS};
static const char *const fw_ports[] = {"8893/8894 (clients)", "8895 (publishers)",
                                       "22/80/443 (admin)"};
#define FW_NLISTS 3

/* The firewall group's settings that are not one of the lists above: the
 * per-source limits (see the settings table for the defaults' reasons). */
static bool fw_is_list(enum setting_id id)
{
    for (int i = 0; i < FW_NLISTS; i++)
        if (fw_lists[i] == id)
            return true;
    return false;
}

static void print_lists(const struct settings *st)
{
    for (int i = 0; i < FW_NLISTS; i++)
        printf("  %-20s %s: %s\n", fw_ports[i], setting_defs[fw_lists[i]].label,
               st->v[fw_lists[i]][0] ? st->v[fw_lists[i]] : "(nobody)");
    printf("  Limits per source address (IPv6: per /64; 0 = none):\n");
    const struct setting_group *g = &setting_groups[G_FIREWALL];
    for (size_t i = 0; i < g->n; i++)
        if (!fw_is_list(g->ids[i]))
            printf("  %-50s %s\n", setting_defs[g->ids[i]].label, st->v[g->ids[i]]);
    printf("\n");
}

static void show_rules(const struct settings *st)
{
    struct render_buf b = {0};
    char err[512];
    if (render_firewall_rules(st, &b, err, sizeof err) < 0) {
        printf("Cannot render the rules: %s\n", err);
        return;
    }
    fwrite(b.data, 1, b.len, stdout);
    render_buf_free(&b);
}

/* True when this process has a network namespace of its own (the tests run
 * in one made with unshare -n), so its counters are not the host's: its
 * namespace differs from init's, or (when init's cannot be read) it has no
 * interface but lo, as a namespace fresh from unshare -n. */
static bool private_netns(void)
{
    struct stat self, init;
    char line[256];
    if (stat("/proc/self/ns/net", &self) == 0 && stat("/proc/1/ns/net", &init) == 0)
        return self.st_ino != init.st_ino || self.st_dev != init.st_dev;
    FILE *f = fopen("/proc/self/net/dev", "r");
    if (!f)
        return false;
    int n = 0, others = 0;
    while (fgets(line, sizeof line, f)) {
        if (++n <= 2 || !strchr(line, ':'))
            continue; /* two header lines */
        char *name = line + strspn(line, " ");
        others += strncmp(name, "lo:", 3) != 0;
    }
    fclose(f);
    return n > 2 && others == 0;
}

static void show_counters(void)
{
    static const char *const dirs[] = {"/usr/sbin/", "/sbin/"};
    static const char *const tools[] = {"iptables", "ip6tables"};
    char *const envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL};
    if (!root_is_system() && !private_netns()) {
        printf("Counters are shown only on the appliance itself: this console runs against\n"
               "the settings root %s, not this machine's firewall.\n",
               root_dir());
        return;
    }
    for (int t = 0; t < 2; t++) {
        char path[64];
        bool found = false;
        for (int d = 0; d < 2 && !found; d++) {
            snprintf(path, sizeof path, "%s%s", dirs[d], tools[t]);
            found = access(path, X_OK) == 0;
        }
        if (!found) {
            printf("%s is not installed: no counters.\n", tools[t]);
            continue;
        }
        char *const argv[] = {(char *)tools[t], "-L", "-v", "-n", "-x", NULL};
        printf("---- %s -L -v -n ----\n", tools[t]);
        int rc = con_run(path, argv, envp);
        if (rc != 0)
            printf("(%s could not read the counters (exit %d): it needs root)\n", tools[t], rc);
    }
}

/* Appends a network to a list; "any" becomes just that network. */
static bool allow_network(struct settings *st, enum setting_id id)
{
    char net[CON_LINE_MAX], value[SETTING_VALUE_MAX + CON_LINE_MAX], err[SETTING_ERR_MAX];
    for (;;) {
        if (!con_ask("Network or address to allow (like 192.0.2.0/24, q to go back): ", net,
                     sizeof net))
            return false;
        if (strcmp(st->v[id], "any") == 0 || st->v[id][0] == '\0')
            snprintf(value, sizeof value, "%s", net);
        else
            snprintf(value, sizeof value, "%s %s", st->v[id], net);
        if (strchr(net, ' ') || strchr(net, '\t'))
            printf("One network at a time, please.\n");
        else if (settings_set(st, id, value, err, sizeof err) == 0)
            return true;
        else
            printf("%s\n", err);
    }
}

static bool remove_network(struct settings *st, enum setting_id id)
{
    char buf[SETTING_VALUE_MAX], value[SETTING_VALUE_MAX], err[SETTING_ERR_MAX];
    const char *entries[SETTING_LIST_MAX];
    int choice;
    size_t n = settings_split(st->v[id], buf, sizeof buf, entries, SETTING_LIST_MAX);
    if (n == 0 || (n == 1 && strcmp(entries[0], "any") == 0)) {
        printf("The list has no network to remove.\n");
        return false;
    }
    for (size_t i = 0; i < n; i++)
        printf("  %zu  %s\n", i + 1, entries[i]);
    if (!con_ask_number("Remove which (q to go back)? ", (int)n, &choice))
        return false;
    value[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if ((int)i + 1 == choice)
            continue;
        size_t l = strlen(value);
        snprintf(value + l, sizeof value - l, "%s%s", l ? " " : "", entries[i]);
    }
    if (value[0] == '\0' && setting_defs[id].kind == SK_NET_LIST_ANY) {
        printf("That was the last network: the list becomes \"any\" (everyone may connect).\n");
        snprintf(value, sizeof value, "any");
    }
    if (settings_set(st, id, value, err, sizeof err) < 0) {
        printf("%s\n", err);
        return false;
    }
    return true;
}

static void change_list(const struct settings *old, bool add)
{
    static struct settings st;
    int which;
    st = *old;
    for (int i = 0; i < FW_NLISTS; i++)
        printf("  %d  %s\n", i + 1, fw_ports[i]);
    if (!con_ask_number("Which list (q to go back)? ", FW_NLISTS, &which))
        return;
    enum setting_id id = fw_lists[which - 1];
    if (!(add ? allow_network(&st, id) : remove_network(&st, id))) {
        printf("Nothing was changed.\n");
        return;
    }
    if (con_review(old, &st, false, "Apply?"))
        con_send_settings(&st, NULL);
}

void action_firewall(void)
{
    static struct settings st;
    int choice;
    if (!con_load(&st, NULL))
        return;
    print_lists(&st);
    printf("  1  Show the rules\n"
           "  2  Show the counters\n"
           "  3  Allow a network\n"
           "  4  Remove a network\n"
           "  5  Change a setting (the limits)\n\n");
    if (!con_ask_number("Choose (1-5, q to go back): ", 5, &choice))
        return;
    switch (choice) {
    case 1:
        show_rules(&st);
        break;
    case 2:
        show_counters();
        break;
    case 5:
        con_group_edit(G_FIREWALL, &st, "Apply?"); /* the lists whole too */
        break;
    default:
        change_list(&st, choice == 3);
        break;
    }
}
