/* The settings groups (see groups.h). */
#include "groups.h"

#define GROUP_IDS(...)                                                                             \
    .ids = {__VA_ARGS__}, .n = sizeof((enum setting_id[]){__VA_ARGS__}) / sizeof(enum setting_id)

/* In each group, the order an admin fills the fields in. */
const struct setting_group setting_groups[G__COUNT] = {
    [G_NETWORK] = {"network", "Network",
                   GROUP_IDS(S_HOSTNAME, S_NET_MODE, S_NET_ADDRESS, S_NET_GATEWAY, S_NET_DNS,
                             S_NET_NTP)},
    [G_SITE] = {"site", "Bitrix site",
                GROUP_IDS(S_SITE_PUBLIC_NAME, S_SITE_PUBLISHERS, S_SITE_VERSION,
                          S_SITE_SIGNATURE_ALGO)},
    [G_KEY] = {"keys", "Signing key", GROUP_IDS(S_KEY_GRACE_PERIOD)},
    [G_FIREWALL] = {"firewall", "Firewall",
                    GROUP_IDS(S_FW_SUBSCRIBE_NETWORKS, S_FW_ADMIN_NETWORKS, S_FW_SUBSCRIBE_CONNS,
                              S_FW_SUBSCRIBE_RATE, S_FW_SSH_RATE, S_FW_WIZARD_RATE)},
    [G_SSH] = {"ssh", "SSH access", GROUP_IDS(S_SSH_KEY_ONLY)},
    [G_CLUSTER] = {"cluster", "Cluster", GROUP_IDS(S_CLUSTER_ROLE, S_CLUSTER_HUB, S_CLUSTER_HUB_CA,
                                               S_CLUSTER_PEERS)},
    /* none today */
    [G_INTERNAL] = {"internal", "Set by the apply service", .n = 0},
};

int setting_group_of(enum setting_id id)
{
    for (int g = 0; g < G__COUNT; g++)
        for (size_t i = 0; i < setting_groups[g].n; i++)
            if (setting_groups[g].ids[i] == id)
                return g;
    return -1;
}
