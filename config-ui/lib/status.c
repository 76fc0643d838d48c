/* The appliance's status as the status page and the console header show
 * it: runit's view of each service (read from supervise/status, as sv
 * does, without running sv), pullboxd's Prometheus figures, disk, uptime,
 * version and address; and the tail of a service's log. Nothing here
 * needs root: runsv's status files and svlogd's logs are world-readable. */
#include "status.h"

#include "fileio.h"
#include "root.h"
#include "selftest.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

/* runit's supervise/status: TAI64N timestamp of the last change (8 bytes
 * seconds + 4 bytes nanoseconds, big-endian), pid (4 bytes little-endian),
 * paused, want ('u'/'d'), got TERM, state (0 down, 1 run, 2 finish). */
#define STATUS_RUNIT_LEN 20
/* TAI64 label of the Unix epoch as runit writes it (2^62 + 10 leap s). */
#define STATUS_TAI_EPOCH 4611686018427387914ULL

#define STATUS_LOG_MAX_LINES 10000
#define STATUS_LOG_CHUNK 4096

/* ---- services ---- */

static int status_cmp_names(const void *a, const void *b)
{
    return strcmp(((const struct service_status *)a)->name,
                  ((const struct service_status *)b)->name);
}

/* out = dir/name; false when it does not fit. */
static bool status_join(char *out, size_t outlen, const char *dir, const char *name)
{
    int n = snprintf(out, outlen, "%s/%s", dir, name);

    return n >= 0 && (size_t)n < outlen;
}

static bool status_file_exists(const char *dir, const char *name)
{
    char path[4096];
    struct stat sb;

    return status_join(path, sizeof path, dir, name) && stat(path, &sb) == 0;
}

/* Reads a small file under dir into buf (NUL-terminated). Returns the
 * length or -1. */
static long status_read_small(const char *dir, const char *name, char *buf, size_t buflen)
{
    char path[4096];
    int fd;
    ssize_t n;

    if (!status_join(path, sizeof path, dir, name))
        return -1;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return -1;
    n = read(fd, buf, buflen - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return (long)n;
}

/* One service from its supervise folder, in sv's words: "run (pid 123)
 * 3600 s", "down 5 s, normally up", "not supervised (runsv is not
 * running)". */
static void status_service(const char *dir, struct service_status *s)
{
    unsigned char b[STATUS_RUNIT_LEN + 1];
    char text[64];
    const char *state;
    bool normally_up = !status_file_exists(dir, "down");
    long n = status_read_small(dir, "supervise/status", (char *)b, sizeof b);
    size_t used;

    if (n != STATUS_RUNIT_LEN) {
        /* runsv not running (yet) for it: the text files may still say
         * what the last runsv left */
        s->up = false;
        if (status_read_small(dir, "supervise/stat", text, sizeof text) > 0 &&
            strncmp(text, "run", 3) == 0)
            snprintf(s->text, sizeof s->text, "unknown (no status from runsv)");
        else
            snprintf(s->text, sizeof s->text, "not supervised (runsv is not running)");
        return;
    }
    uint64_t tai = 0;
    for (int i = 0; i < 8; i++)
        tai = tai << 8 | b[i];
    s->pid = (int)((uint32_t)b[12] | (uint32_t)b[13] << 8 | (uint32_t)b[14] << 16 |
                   (uint32_t)b[15] << 24);
    if (tai >= STATUS_TAI_EPOCH) {
        long long since = (long long)(tai - STATUS_TAI_EPOCH);
        long long now = (long long)time(NULL);

        s->seconds = now > since ? now - since : 0;
    }
    state = b[19] == 1 ? "run" : b[19] == 2 ? "finish" : "down";
    s->up = b[19] == 1;
    s->off = b[19] == 0 && b[17] == 'd';
    if (b[19] == 0)
        s->pid = 0;
    if (s->pid)
        used = (size_t)snprintf(s->text, sizeof s->text, "%s (pid %d) %lld s", state, s->pid,
                                s->seconds);
    else
        used = (size_t)snprintf(s->text, sizeof s->text, "%s %lld s", state, s->seconds);
    if (used >= sizeof s->text)
        return;
    if (b[19] == 0 && normally_up)
        used += (size_t)snprintf(s->text + used, sizeof s->text - used, ", normally up");
    else if (b[19] != 0 && !normally_up && used < sizeof s->text)
        used += (size_t)snprintf(s->text + used, sizeof s->text - used, ", normally down");
    if (b[16] && used < sizeof s->text)
        used += (size_t)snprintf(s->text + used, sizeof s->text - used, ", paused");
    if (b[19] == 0 && b[17] == 'u' && used < sizeof s->text)
        snprintf(s->text + used, sizeof s->text - used, ", want up");
    else if (b[19] != 0 && b[17] == 'd' && used < sizeof s->text)
        snprintf(s->text + used, sizeof s->text - used, ", want down");
}

/* True for the names a service may have here: [a-z0-9-], 1..31 chars. */
static bool status_name_ok(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n >= sizeof(((struct service_status *)0)->name))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return false;
    }
    return true;
}

static void status_services(struct appliance_status *st)
{
    char dir[4096], sdir[4096];
    DIR *d;
    struct dirent *e;

    if (root_path(dir, sizeof dir, PATH_SERVICES) != 0 || !(d = opendir(dir)))
        return;
    while ((e = readdir(d)) && st->nservices < STATUS_MAX_SERVICES) {
        struct service_status *s = &st->services[st->nservices];
        struct stat sb;

        /* status_name_ok() bounds the name's length to fit s->name */
        if (!status_name_ok(e->d_name) || !status_join(sdir, sizeof sdir, dir, e->d_name))
            continue;
        if (stat(sdir, &sb) != 0 || !S_ISDIR(sb.st_mode))
            continue;
        memset(s, 0, sizeof *s);
        memcpy(s->name, e->d_name, strlen(e->d_name) + 1);
        status_service(sdir, s);
        st->nservices++;
    }
    closedir(d);
    qsort(st->services, st->nservices, sizeof st->services[0], status_cmp_names);
}

/* ---- pullboxd's metrics ---- */

/* The value of a sample line "name{labels} value" or "name value" when
 * its name is name. */
static bool status_sample(const char *line, const char *name, double *v)
{
    size_t n = strlen(name);
    const char *p;
    char *end;

    if (strncmp(line, name, n) != 0 || (line[n] != ' ' && line[n] != '{'))
        return false;
    p = line + n;
    if (*p == '{') {
        p = strchr(p, '}');
        if (!p)
            return false;
        p++;
    }
    *v = strtod(p, &end);
    return end != p;
}

int status_metrics(int port, double timeout, struct status_metrics *m)
{
    char *body = NULL, err[256];
    size_t len;
    int status;

    memset(m, 0, sizeof *m);
    if (selftest_http("127.0.0.1", port, "GET", "/metrics", NULL, timeout, &body, &len, &status,
                      err, sizeof err) != 0)
        return -1;
    if (status != 200) {
        free(body);
        return -1;
    }
    for (char *line = body, *next; line && *line; line = next) {
        double v;

        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (line[0] == '#')
            continue;
        /* pullbox_connections has one sample per transport: the sum is
         * what the admin means by connections */
        if (status_sample(line, "pullbox_connections", &v))
            m->connections += (long long)v;
        else if (status_sample(line, "pullbox_channels", &v))
            m->channels = (long long)v;
        else if (status_sample(line, "pullbox_messages_in_total", &v))
            m->messages_total = (long long)v;
        else if (status_sample(line, "pullbox_uptime_seconds", &v))
            m->uptime = v;
        else if (status_sample(line, "pullbox_deliveries_total", &v))
            m->deliveries_total = v;
        else if (status_sample(line, "pullbox_drops_total", &v))
            m->drops_total += v; /* one sample per reason */
    }
    free(body);
    return 0;
}

/* ---- the rest ---- */

static void status_version(struct appliance_status *st)
{
    char path[4096], err[256];
    char *data = NULL;
    const char *env = getenv("PULLBOX_VERSION");

    snprintf(st->version, sizeof st->version, "%s", env && env[0] ? env : "unknown");
    if (root_path(path, sizeof path, "etc/pullbox-version") != 0 ||
        file_read_all(path, 256, &data, err, sizeof err) < 0)
        return;
    data[strcspn(data, "\r\n")] = '\0';
    if (data[0])
        snprintf(st->version, sizeof st->version, "%s", data);
    free(data);
}

/* The first IPv4 address of an interface that is up, not the loopback
 * and not link-local (169.254/16: no DHCP answer). */
static void status_address(struct appliance_status *st)
{
    struct ifaddrs *ifs, *i;

    if (getifaddrs(&ifs) != 0)
        return;
    for (i = ifs; i; i = i->ifa_next) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)i->ifa_addr;
        uint32_t ip;

        if (!a || a->sin_family != AF_INET || !(i->ifa_flags & IFF_UP) ||
            (i->ifa_flags & IFF_LOOPBACK))
            continue;
        ip = ntohl(a->sin_addr.s_addr);
        if ((ip >> 24) == 127 || (ip >> 16) == 0xa9fe)
            continue;
        inet_ntop(AF_INET, &a->sin_addr, st->address, sizeof st->address);
        break;
    }
    freeifaddrs(ifs);
}

static void status_uptime(struct appliance_status *st)
{
    FILE *f = fopen("/proc/uptime", "re");

    if (!f)
        return;
    if (fscanf(f, "%lf", &st->uptime) != 1)
        st->uptime = 0;
    fclose(f);
}

static void status_disk(struct appliance_status *st)
{
    char path[4096];
    struct statvfs v;

    if (root_path(path, sizeof path, "data") != 0 || statvfs(path, &v) != 0)
        return;
    st->disk_total = (unsigned long long)v.f_blocks * v.f_frsize;
    st->disk_free = (unsigned long long)v.f_bavail * v.f_frsize;
}

void status_read(struct appliance_status *st, int publish_port, double timeout)
{
    struct status_metrics m;

    memset(st, 0, sizeof *st);
    status_version(st);
    status_address(st);
    status_uptime(st);
    status_services(st);
    status_disk(st);
    if (status_metrics(publish_port, timeout, &m) == 0) {
        st->metrics_ok = true;
        st->connections = m.connections;
        st->channels = m.channels;
        st->messages_total = m.messages_total;
        /* the average since pullboxd started; status_measure_rate() for
         * the current rate */
        st->messages_per_second = m.uptime > 0 ? (double)m.messages_total / m.uptime : 0;
    }
}

/* Two readings of /metrics one second apart: the current rate rather
 * than status_read()'s average since start. Takes a second. */
void status_measure_rate(struct appliance_status *st, int publish_port, double timeout)
{
    struct status_metrics a, b;
    struct timespec t0, t1, pause = {1, 0};
    double dt;

    if (status_metrics(publish_port, timeout, &a) != 0)
        return;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (nanosleep(&pause, &pause) != 0 && errno == EINTR)
        ;
    if (status_metrics(publish_port, timeout, &b) != 0)
        return;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    dt = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    st->metrics_ok = true;
    st->connections = b.connections;
    st->channels = b.channels;
    st->messages_total = b.messages_total;
    st->messages_per_second = dt > 0 && b.messages_total >= a.messages_total
                                  ? (double)(b.messages_total - a.messages_total) / dt
                                  : 0;
}

/* ---- log tail ---- */

long status_log_tail(const char *service, int n, char *buf, size_t buflen, char *err, size_t errlen)
{
    char dir[4096], path[4096], chunk[STATUS_LOG_CHUNK];
    struct stat sb;
    off_t end, pos, start;
    int fd, newlines = 0;
    size_t len;
    ssize_t got;

    if (buflen == 0)
        return -1;
    buf[0] = '\0';
    if (!status_name_ok(service)) {
        snprintf(err, errlen,
                 "\"%.40s\" is not a service name (lowercase letters, digits and "
                 "'-' only)",
                 service);
        return -1;
    }
    if (root_path(dir, sizeof dir, PATH_SERVICES) != 0 || !status_file_exists(dir, service)) {
        snprintf(err, errlen, "there is no service named %s", service);
        return -1;
    }
    if (root_path(dir, sizeof dir, PATH_LOGS) != 0 ||
        snprintf(path, sizeof path, "%s/%s/current", dir, service) >= (int)sizeof path) {
        snprintf(err, errlen, "the settings folder path is too long");
        return -1;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        snprintf(err, errlen, "%s has no log yet (%s: %s)", service, path,
                 fd < 0 ? strerror(errno) : "not a file");
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (n <= 0) {
        close(fd);
        return 0;
    }
    if (n > STATUS_LOG_MAX_LINES)
        n = STATUS_LOG_MAX_LINES;

    /* Scan backwards from the end for n line ends (the last byte's own
     * newline does not count), never further back than buf can hold. */
    end = sb.st_size;
    start = 0;
    pos = end;
    while (pos > 0 && start == 0) {
        off_t from = pos > STATUS_LOG_CHUNK ? pos - STATUS_LOG_CHUNK : 0;

        got = pread(fd, chunk, (size_t)(pos - from), from);
        if (got <= 0)
            break;
        for (ssize_t i = got - 1; i >= 0; i--) {
            off_t at = from + i;

            if (chunk[i] != '\n' || at == end - 1)
                continue;
            if (++newlines == n) {
                start = at + 1;
                break;
            }
        }
        pos = from;
        if ((size_t)(end - pos) >= buflen)
            break;
    }
    /* too much for buf: keep the newest part, from a line start */
    if ((size_t)(end - start) > buflen - 1) {
        start = end - (off_t)(buflen - 1);
        got = pread(fd, buf, buflen - 1, start);
        len = got > 0 ? (size_t)got : 0;
        char *nl = memchr(buf, '\n', len);
        if (nl && (size_t)(nl - buf) + 1 < len) {
            size_t skip = (size_t)(nl - buf) + 1;
            memmove(buf, buf + skip, len - skip);
            len -= skip;
        }
    } else {
        got = pread(fd, buf, (size_t)(end - start), start);
        len = got > 0 ? (size_t)got : 0;
    }
    buf[len] = '\0';
    close(fd);
    return (long)len;
}
