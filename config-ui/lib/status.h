/* What the status page and the console's header show: services (runit's
 * supervise/status of each service under PATH_SERVICES), pullboxd's figures
 * (its /metrics on the publish port), disk space of the data partition,
 * uptime, and the last lines of a service's log (PATH_LOGS/<svc>/current). */
#ifndef PULLBOX_CFG_STATUS_H
#define PULLBOX_CFG_STATUS_H

#include <stdbool.h>
#include <stddef.h>

#define STATUS_MAX_SERVICES 16

struct service_status {
    char name[32];
    bool up;
    bool off;          /* down because runsv was told so (the redis hub off a hub): not a fault */
    long long seconds; /* in this state */
    int pid;           /* 0 when down */
    char text[96];     /* "run (pid 123) 3600 s", "down 5 s, normally up, want up" (sv's
                          words), "not supervised (runsv is not running)" */
};

struct appliance_status {
    char version[32];
    char address[64];  /* first global IPv4 address, or "" */
    double uptime;     /* seconds */
    struct service_status services[STATUS_MAX_SERVICES];
    size_t nservices;
    bool metrics_ok;   /* pullboxd answered /metrics */
    long long connections, channels, messages_total;
    double messages_per_second; /* from two readings 1 s apart, or since start */
    unsigned long long disk_total, disk_free; /* bytes, of <root>/data */
};

/* Fills st; metrics from 127.0.0.1:publish_port within timeout seconds.
 * messages_per_second is the average since pullboxd started
 * (messages_total / its uptime). */
void status_read(struct appliance_status *st, int publish_port, double timeout);
/* After status_read: replaces the figures with two readings of /metrics one
 * second apart, so messages_per_second is the current rate. Takes 1 s;
 * leaves st as it was if pullboxd does not answer. */
void status_measure_rate(struct appliance_status *st, int publish_port, double timeout);
/* pullboxd's figures from its /metrics: connections summed over the
 * transports, drops over the reasons. */
struct status_metrics {
    long long connections, channels, messages_total;
    double deliveries_total, drops_total;
    double uptime;
};
/* GET /metrics on 127.0.0.1:port within timeout seconds. 0 or -1. */
int status_metrics(int port, double timeout, struct status_metrics *m);
/* The last n lines of a service's log into buf (NUL-terminated). Returns the
 * length, or -1 with err if the service has no log. The name is checked
 * against the services present (no path in it). */
long status_log_tail(const char *service, int n, char *buf, size_t buflen, char *err,
                     size_t errlen);

#endif
