/* loadgen: the Pullbox benchmark load generator.
 *
 * One parent process forks W subscriber workers (each under the per-process
 * open-file limit) and one publisher, all on their own epoll loops. Every
 * message body carries its send time, {"t":<CLOCK_MONOTONIC ns>,"seq":N}, and
 * receivers find it inside whatever framing the server wraps around it (NGINX
 * text frames, nchan raw bodies, SSE events, RESP pushes, protobuf), so the same
 * binary drives pullboxd, nginx+nchan and redis-server. The parent reads the
 * server's /proc before and after each phase and prints one JSON line plus a
 * human summary. Every loop is bounded by a deadline and a count.
 *
 * Exit codes: 0 run completed (the JSON says whether anything was lost),
 * 100 usage, 111 system error. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hist.h"

#define MAX_WORKERS 64
#define MAX_PUB_CONNS 64
#define SCRATCH (256 * 1024)
#define MAX_PIDS 8

/* ---- options ---- */

enum transport { TR_WS, TR_LP, TR_ES, TR_REDIS };
enum pub_mode { PM_TEXT, PM_PB, PM_REDIS, PM_NONE };

struct url {
    bool tls;
    bool redis;
    char host[64];
    int port;
    char path[1024]; /* may hold {ch} */
};

static struct opts {
    struct url sub, pub;
    bool have_sub, have_pub;
    enum transport tr;
    enum pub_mode pm;
    unsigned subs, channels, workers, src_addrs, pub_conns, depth, batch, hs_concurrency;
    double rate;          /* messages per second, 0 = flat out */
    double duration;      /* seconds of publishing */
    uint64_t max_msgs;    /* count bound on publishing */
    double settle, idle;  /* seconds after connecting, before measuring / publishing */
    double drain;         /* seconds to wait for deliveries after publishing */
    double connect_timeout;
    char sign_key[256];
    char chan_fmt[64];
    pid_t pids[MAX_PIDS];
    unsigned n_pids;
    const char *label;
    const char *json_path;
    unsigned body_pad; /* extra bytes in each body */
    bool probe;        /* -Q: time publish answers and /health during the publish phase */
} o = {
    .subs = 0,
    .channels = 1,
    .workers = 0,
    .src_addrs = 16,
    .pub_conns = 4,
    .depth = 32,
    .batch = 100,
    .hs_concurrency = 256,
    .rate = 0,
    .duration = 10,
    .max_msgs = 100000000,
    .settle = 1,
    .drain = 10,
    .connect_timeout = 60,
    .chan_fmt = "b0b0b0b0",
    .label = "run",
};

/* ---- shared statistics ---- */

struct wstat {
    uint64_t mine, connected, connect_fail, dropped, delivered, reconnects, pings, proto_err;
    uint64_t rx_bytes; /* bytes read from ready subscribers once publishing began */
    uint64_t t_conn_start, t_conn_end, t_last_delivery;
    int ready, done;
    char last_err[96];
    struct hist h;
};

struct pstat {
    uint64_t requests, published, pub_errors, expected, msgs_sent;
    uint64_t t_start, t_end, t_last_ack;
    uint64_t max_lag_ns;
    int ready, done;
    char last_err[96];
};

/* what the probe measured: a publish to a channel nobody reads, and GET /health,
 * on connections of their own, every 10 ms while the publisher works */
struct probe {
    struct hist pub, health;
    uint64_t errors;
};

struct shared {
    volatile int phase; /* 0 connect, 1 publish, 2 stop */
    struct pstat p;
    struct probe q;
    struct wstat w[MAX_WORKERS];
};

static struct shared *sh;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void die(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("loadgen: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(code);
}

static int load(volatile int *p)
{
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void store(volatile int *p, int v)
{
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/* ---- channels ---- */

static unsigned subs_on_channel(unsigned ch)
{
    unsigned base = o.subs / o.channels, extra = o.subs % o.channels;
    return base + (ch < extra ? 1 : 0);
}

static void channel_name(unsigned ch, char *out, size_t cap)
{
    /* the prefix, then the index in hex, zero-padded to 32 characters in all */
    size_t pl = strlen(o.chan_fmt);
    int width = pl < 32 ? (int)(32 - pl) : 1;
    snprintf(out, cap, "%s%0*x", o.chan_fmt, width, ch);
}

/* The subscriber's form of the id: id.<hex hmac-sha1(key, id)> when a key is set. */
static void channel_signed(unsigned ch, char *out, size_t cap)
{
    char id[128];
    channel_name(ch, id, sizeof id);
    if (!o.sign_key[0]) {
        snprintf(out, cap, "%s", id);
        return;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    HMAC(EVP_sha1(), o.sign_key, (int)strlen(o.sign_key), (const unsigned char *)id, strlen(id), md,
         &mdlen);
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    for (unsigned i = 0; i < mdlen; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    snprintf(out, cap, "%s.%s", id, hex);
}

/* Replaces every {ch} in tpl with ch. */
static int expand(const char *tpl, const char *ch, char *out, size_t cap)
{
    size_t n = 0, cl = strlen(ch);
    for (const char *p = tpl; *p;) {
        if (!strncmp(p, "{ch}", 4)) {
            if (n + cl >= cap)
                return -1;
            memcpy(out + n, ch, cl);
            n += cl;
            p += 4;
        } else {
            if (n + 1 >= cap)
                return -1;
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
    return (int)n;
}

static int parse_url(const char *s, struct url *u)
{
    memset(u, 0, sizeof *u);
    const char *p;
    if (!strncmp(s, "ws://", 5) || !strncmp(s, "http://", 7)) {
        p = strstr(s, "://") + 3;
    } else if (!strncmp(s, "wss://", 6) || !strncmp(s, "https://", 8)) {
        u->tls = true;
        p = strstr(s, "://") + 3;
    } else if (!strncmp(s, "redis://", 8)) {
        u->redis = true;
        p = s + 8;
    } else {
        return -1;
    }
    const char *colon = strchr(p, ':'), *slash = strchr(p, '/');
    if (!colon || (slash && colon > slash))
        return -1;
    size_t hl = (size_t)(colon - p);
    if (hl == 0 || hl >= sizeof u->host)
        return -1;
    memcpy(u->host, p, hl);
    u->port = atoi(colon + 1);
    snprintf(u->path, sizeof u->path, "%s", slash ? slash : "/");
    return u->port > 0 ? 0 : -1;
}

/* ---- sockets ---- */

static int tcp_socket(const struct url *u, unsigned src, struct sockaddr_in *dst)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (src) {
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        struct sockaddr_in a = {.sin_family = AF_INET};
        a.sin_addr.s_addr = htonl(0x7f000000u | src);
        if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) {
            close(fd);
            return -1;
        }
    }
    memset(dst, 0, sizeof *dst);
    dst->sin_family = AF_INET;
    dst->sin_port = htons((uint16_t)u->port);
    if (inet_pton(AF_INET, u->host, &dst->sin_addr) != 1) {
        close(fd);
        errno = EINVAL;
        return -1;
    }
    if (connect(fd, (struct sockaddr *)dst, sizeof *dst) < 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

static void raise_nofile(void)
{
    struct rlimit r;
    if (getrlimit(RLIMIT_NOFILE, &r) == 0) {
        r.rlim_cur = r.rlim_max;
        setrlimit(RLIMIT_NOFILE, &r);
    }
}

static SSL_CTX *ssl_ctx;

static void tls_init(void)
{
    ssl_ctx = SSL_CTX_new(TLS_client_method());
    if (!ssl_ctx)
        die(111, "SSL_CTX_new failed");
    SSL_CTX_set_verify(ssl_ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_mode(ssl_ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                                  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

/* ---- message bodies ---- */

/* Finds every {"t":T,"seq":S} in p[0..n) and records its latency. Returns the
 * offset up to which the bytes are done with: when !final, an incomplete match
 * at the end is left for the next read. */
static size_t scan_msgs(struct wstat *ws, const char *p, size_t n, uint64_t now, bool final)
{
    size_t off = 0;
    for (;;) {
        const char *m = memmem(p + off, n - off, "\"t\":", 4);
        if (!m)
            break;
        size_t at = (size_t)(m - p);
        size_t i = at + 4;
        uint64_t t = 0;
        while (i < n && p[i] >= '0' && p[i] <= '9')
            t = t * 10 + (uint64_t)(p[i++] - '0');
        if (i >= n || i + 8 > n) {
            if (!final)
                return at;
            off = n;
            break;
        }
        /* ,"seq":N then a non-digit */
        size_t j = i;
        if (!memcmp(p + j, ",\"seq\":", 7)) {
            j += 7;
            while (j < n && p[j] >= '0' && p[j] <= '9')
                j++;
            if (j >= n && !final)
                return at;
        }
        uint64_t lat = now > t ? now - t : 0;
        hist_add(&ws->h, lat);
        ws->delivered++;
        ws->t_last_delivery = now;
        off = j;
    }
    if (final)
        return n;
    /* keep a possible partial "t": at the end */
    return n - off > 3 ? n - 3 : off;
}

/* ---- subscriber connections ---- */

enum sub_state { SS_IDLE, SS_CONNECTING, SS_TLS, SS_HEAD, SS_WS, SS_STREAM, SS_LP_BODY, SS_DEAD };

struct sconn {
    int fd;
    uint8_t state;
    bool ready;       /* counted as connected */
    bool want_write;  /* EPOLLOUT armed */
    bool lp_close;    /* the current LP answer closes the connection */
    bool lp_msgs;     /* the current LP body is a 200 with messages */
    unsigned idx;
    SSL *ssl;
    char *in; /* bytes not yet consumed */
    uint32_t in_len;
    char *out;
    uint32_t out_len, out_off;
    int64_t body_left;
    char mid[28];
    char lastmod[40];
    char etag[40];
};

struct worker {
    int id;
    int ep;
    struct wstat *ws;
    struct sconn *conns;
    unsigned n; /* subscribers of this worker */
    unsigned next; /* next to start */
    unsigned inflight;
    char **chan_str; /* signed ids, per channel, built lazily */
    char scratch[SCRATCH];
};

static unsigned sub_global(const struct worker *w, unsigned k)
{
    return k * o.workers + (unsigned)w->id;
}

static const char *sub_chan(struct worker *w, unsigned k)
{
    unsigned ch = sub_global(w, k) % o.channels;
    if (!w->chan_str[ch]) {
        char buf[256];
        channel_signed(ch, buf, sizeof buf);
        w->chan_str[ch] = strdup(buf);
    }
    return w->chan_str[ch];
}

static void werr(struct worker *w, const char *what, int err)
{
    snprintf(w->ws->last_err, sizeof w->ws->last_err, "%s: %s", what, err ? strerror(err) : "");
}

static void sub_arm(struct worker *w, struct sconn *c, bool wr)
{
    if (c->want_write == wr)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (wr ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_write = wr;
}

/* Closes c; counts it as a failed connect or a dropped subscriber unless the
 * run is stopping. */
static void sub_kill(struct worker *w, struct sconn *c, const char *why, int err)
{
    if (c->state == SS_DEAD || c->state == SS_IDLE)
        return;
    if (load(&sh->phase) < 2) {
        if (c->ready)
            w->ws->dropped++;
        else
            w->ws->connect_fail++;
        werr(w, why, err);
    }
    if (!c->ready && w->inflight)
        w->inflight--;
    if (c->ssl) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    close(c->fd);
    c->fd = -1;
    free(c->in);
    free(c->out);
    c->in = c->out = NULL;
    c->in_len = c->out_len = c->out_off = 0;
    c->state = SS_DEAD;
}

static void sub_mark_ready(struct worker *w, struct sconn *c)
{
    if (c->ready)
        return;
    c->ready = true;
    w->ws->connected++;
    if (w->inflight)
        w->inflight--;
}

/* Writes pending output; 0 when all is written or would block, -1 on error. */
static int sub_flush(struct worker *w, struct sconn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t r;
        if (c->ssl) {
            ERR_clear_error();
            int k = SSL_write(c->ssl, c->out + c->out_off, (int)(c->out_len - c->out_off));
            if (k <= 0) {
                int e = SSL_get_error(c->ssl, k);
                if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
                    sub_arm(w, c, true);
                    return 0;
                }
                return -1;
            }
            r = k;
        } else {
            r = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
            if (r < 0) {
                if (errno == EAGAIN || errno == EINTR) {
                    sub_arm(w, c, true);
                    return 0;
                }
                return -1;
            }
        }
        c->out_off += (uint32_t)r;
    }
    c->out_len = c->out_off = 0;
    sub_arm(w, c, false);
    return 0;
}

static int sub_send(struct worker *w, struct sconn *c, const char *p, size_t n)
{
    char *nb = realloc(c->out, c->out_len + n);
    if (!nb)
        return -1;
    c->out = nb;
    memcpy(c->out + c->out_len, p, n);
    c->out_len += (uint32_t)n;
    return sub_flush(w, c);
}

static int sub_send_request(struct worker *w, struct sconn *c)
{
    char path[2048], req[4096];
    int n;
    const char *ch = sub_chan(w, c->idx);
    if (o.tr == TR_REDIS) {
        n = snprintf(req, sizeof req, "*2\r\n$9\r\nSUBSCRIBE\r\n$%zu\r\n%s\r\n", strlen(ch), ch);
        return sub_send(w, c, req, (size_t)n);
    }
    if (expand(o.sub.path, ch, path, sizeof path) < 0)
        return -1;
    switch (o.tr) {
    case TR_WS:
        n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     path, o.sub.host, o.sub.port);
        break;
    case TR_ES:
        n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s:%d\r\nAccept: text/event-stream\r\n\r\n", path,
                     o.sub.host, o.sub.port);
        break;
    default: {
        /* long poll: the cursor is the mid of the last message (pullboxd),
         * else the push-stream/nchan Last-Modified + Etag pair */
        char cur[160] = "";
        if (c->mid[0])
            snprintf(path + strlen(path), sizeof path - strlen(path), "%smid=%s",
                     strchr(path, '?') ? "&" : "?", c->mid);
        else if (c->lastmod[0])
            snprintf(cur, sizeof cur, "If-Modified-Since: %s\r\nIf-None-Match: %s\r\n",
                     c->lastmod, c->etag);
        n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s:%d\r\n%s\r\n", path,
                     o.sub.host, o.sub.port, cur);
        break;
    }
    }
    if (n <= 0 || (size_t)n >= sizeof req)
        return -1;
    if (sub_send(w, c, req, (size_t)n) < 0)
        return -1;
    if (o.tr == TR_LP && c->out_len == 0)
        sub_mark_ready(w, c); /* the poll is parked on the server */
    return 0;
}

static int sub_start(struct worker *w, struct sconn *c)
{
    struct sockaddr_in dst;
    unsigned g = sub_global(w, c->idx);
    unsigned src = o.src_addrs ? 2 + g % o.src_addrs : 0;
    c->fd = tcp_socket(&o.sub, src, &dst);
    if (c->fd < 0)
        return -1;
    c->state = SS_CONNECTING;
    c->want_write = true;
    c->body_left = 0;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    return 0;
}

/* After a long-poll answer that closes: open a new connection for the next poll. */
static void sub_lp_reconnect(struct worker *w, struct sconn *c)
{
    if (c->ssl) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    close(c->fd);
    free(c->in);
    free(c->out);
    c->in = c->out = NULL;
    c->in_len = c->out_len = c->out_off = 0;
    w->ws->reconnects++;
    if (sub_start(w, c) < 0) {
        c->state = SS_IDLE;
        w->ws->dropped++;
        werr(w, "lp reconnect", errno);
    }
}

struct resp_head {
    int status;
    int64_t clen;
    bool chunked, close;
    char lastmod[40], etag[40], lmid[28];
};

static void copy_hval(char *dst, size_t cap, const char *v, const char *end)
{
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    size_t l = (size_t)(end - v);
    if (l >= cap)
        l = cap - 1;
    memcpy(dst, v, l);
    dst[l] = '\0';
}

static int parse_head(const char *p, size_t n, struct resp_head *h)
{
    memset(h, 0, sizeof *h);
    h->clen = -1;
    if (n < 12 || memcmp(p, "HTTP/1.", 7))
        return -1;
    h->status = atoi(p + 9);
    if (p[7] == '0')
        h->close = true;
    const char *line = memchr(p, '\n', n);
    const char *end = p + n;
    while (line && line + 1 < end) {
        line++;
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (!eol)
            break;
        const char *colon = memchr(line, ':', (size_t)(eol - line));
        const char *vend = eol > line && eol[-1] == '\r' ? eol - 1 : eol;
        if (colon) {
            size_t kl = (size_t)(colon - line);
            const char *v = colon + 1;
            if (kl == 14 && !strncasecmp(line, "Content-Length", 14))
                h->clen = strtoll(v, NULL, 10);
            else if (kl == 17 && !strncasecmp(line, "Transfer-Encoding", 17))
                h->chunked = memmem(v, (size_t)(vend - v), "chunked", 7) != NULL;
            else if (kl == 10 && !strncasecmp(line, "Connection", 10))
                h->close = memmem(v, (size_t)(vend - v), "close", 5) != NULL;
            else if (kl == 13 && !strncasecmp(line, "Last-Modified", 13))
                copy_hval(h->lastmod, sizeof h->lastmod, v, vend);
            else if (kl == 4 && !strncasecmp(line, "Etag", 4))
                copy_hval(h->etag, sizeof h->etag, v, vend);
            else if (kl == 15 && !strncasecmp(line, "Last-Message-Id", 15))
                copy_hval(h->lmid, sizeof h->lmid, v, vend);
        }
        line = eol;
    }
    return 0;
}

static void lp_take_mid(struct sconn *c, const char *p, size_t n)
{
    const char *last = NULL;
    for (const char *m = p; (m = memmem(m, (size_t)(p + n - m), "\"mid\":\"", 7)); m += 7)
        last = m + 7;
    if (last && last + 26 <= p + n) {
        memcpy(c->mid, last, 26);
        c->mid[26] = '\0';
    }
}

/* Consumes p[0..n); returns the bytes used, or -1 to drop the subscriber. */
static ssize_t sub_consume(struct worker *w, struct sconn *c, char *p, size_t n, uint64_t now)
{
    size_t off = 0;
    while (off < n) {
        switch (c->state) {
        case SS_HEAD: {
            if (o.tr == TR_REDIS) {
                /* *3 $9 subscribe $N ch :1 */
                const char *e = memmem(p + off, n - off, "\r\n:", 3);
                if (!e)
                    return (ssize_t)off;
                const char *eol = memmem(e + 3, (size_t)(p + n - e - 3), "\r\n", 2);
                if (!eol)
                    return (ssize_t)off;
                if (!memmem(p + off, (size_t)(e - p - off), "subscribe", 9))
                    return -1;
                sub_mark_ready(w, c);
                c->state = SS_STREAM;
                off = (size_t)(eol + 2 - p);
                break;
            }
            char *e = memmem(p + off, n - off, "\r\n\r\n", 4);
            if (!e)
                return (size_t)(n - off) > 65536 ? -1 : (ssize_t)off;
            struct resp_head h;
            size_t hl = (size_t)(e + 4 - (p + off));
            if (parse_head(p + off, hl, &h) < 0)
                return -1;
            off += hl;
            if (o.tr == TR_WS) {
                if (h.status != 101)
                    return -1;
                sub_mark_ready(w, c);
                c->state = SS_WS;
            } else if (o.tr == TR_ES) {
                if (h.status != 200)
                    return -1;
                sub_mark_ready(w, c);
                c->state = SS_STREAM;
            } else {
                if (h.chunked)
                    return -1; /* not produced by any server we drive */
                if (h.status == 200) {
                    c->lp_msgs = true;
                } else if (h.status == 304 || h.status == 408) {
                    c->lp_msgs = false;
                    if (h.lmid[0] && strlen(h.lmid) == 26)
                        memcpy(c->mid, h.lmid, 27);
                } else {
                    return -1;
                }
                if (h.lastmod[0]) {
                    memcpy(c->lastmod, h.lastmod, sizeof c->lastmod);
                    memcpy(c->etag, h.etag, sizeof c->etag);
                }
                c->lp_close = h.close;
                c->body_left = h.clen < 0 ? 0 : h.clen;
                c->state = SS_LP_BODY;
                if (c->body_left == 0)
                    goto lp_done;
            }
            break;
        }
        case SS_LP_BODY: {
            if ((int64_t)(n - off) < c->body_left)
                return c->body_left > SCRATCH / 2 ? -1 : (ssize_t)off;
            size_t bl = (size_t)c->body_left;
            if (c->lp_msgs) {
                scan_msgs(w->ws, p + off, bl, now, true);
                lp_take_mid(c, p + off, bl);
            }
            off += bl;
        lp_done:
            c->state = SS_HEAD;
            c->body_left = 0;
            if (c->lp_close) {
                sub_lp_reconnect(w, c);
                return -2;
            }
            if (sub_send_request(w, c) < 0)
                return -1;
            break;
        }
        case SS_WS: {
            size_t avail = n - off;
            const unsigned char *f = (const unsigned char *)p + off;
            if (avail < 2)
                return (ssize_t)off;
            uint64_t len = f[1] & 127;
            size_t hl = 2;
            if (len == 126) {
                if (avail < 4)
                    return (ssize_t)off;
                len = (uint64_t)f[2] << 8 | f[3];
                hl = 4;
            } else if (len == 127) {
                if (avail < 10)
                    return (ssize_t)off;
                len = 0;
                for (int i = 0; i < 8; i++)
                    len = len << 8 | f[2 + i];
                hl = 10;
            }
            if (f[1] & 0x80)
                return -1; /* servers never mask */
            if (len > SCRATCH / 2)
                return -1;
            if (avail < hl + len)
                return (ssize_t)off;
            unsigned op = f[0] & 15;
            const char *pl = (const char *)f + hl;
            if (op == 0 || op == 1 || op == 2) {
                scan_msgs(w->ws, pl, (size_t)len, now, true);
            } else if (op == 9) {
                /* pong, masked with a zero key, echoing the payload */
                char pong[140];
                if (len > 125)
                    return -1;
                pong[0] = (char)0x8a;
                pong[1] = (char)(0x80 | len);
                memset(pong + 2, 0, 4);
                memcpy(pong + 6, pl, (size_t)len);
                w->ws->pings++;
                if (sub_send(w, c, pong, 6 + (size_t)len) < 0)
                    return -1;
            } else if (op == 8) {
                return -1;
            }
            off += hl + (size_t)len;
            break;
        }
        case SS_STREAM:
            off += scan_msgs(w->ws, p + off, n - off, now, false);
            return (ssize_t)off;
        default:
            return -1;
        }
    }
    return (ssize_t)off;
}

/* Reads everything available; -1 on EOF or error. */
static int sub_read(struct worker *w, struct sconn *c)
{
    for (int rounds = 0; rounds < 64; rounds++) {
        char *buf = w->scratch;
        size_t have = c->in_len;
        if (have)
            memcpy(buf, c->in, have);
        ssize_t r;
        if (c->ssl) {
            ERR_clear_error();
            int k = SSL_read(c->ssl, buf + have, (int)(SCRATCH - have));
            if (k <= 0) {
                int e = SSL_get_error(c->ssl, k);
                if (e == SSL_ERROR_WANT_READ)
                    return 0;
                if (e == SSL_ERROR_WANT_WRITE) {
                    sub_arm(w, c, true);
                    return 0;
                }
                return -1;
            }
            r = k;
        } else {
            r = read(c->fd, buf + have, SCRATCH - have);
            if (r < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -1;
            if (r == 0)
                return -1;
        }
        size_t total = have + (size_t)r;
        if (load(&sh->phase) >= 1)
            w->ws->rx_bytes += (uint64_t)r;
        ssize_t used = sub_consume(w, c, buf, total, now_ns());
        if (used == -2)
            return 0; /* the connection was replaced */
        if (used < 0)
            return -1;
        size_t left = total - (size_t)used;
        if (left) {
            char *nb = realloc(c->in, left);
            if (!nb)
                return -1;
            memcpy(nb, buf + used, left);
            c->in = nb;
        } else {
            free(c->in);
            c->in = NULL;
        }
        c->in_len = (uint32_t)left;
        if ((size_t)r < SCRATCH - have && !(c->ssl && SSL_pending(c->ssl)))
            return 0;
    }
    return 0;
}

static void sub_tls_step(struct worker *w, struct sconn *c)
{
    ERR_clear_error();
    int k = SSL_connect(c->ssl);
    if (k == 1) {
        c->state = SS_HEAD;
        if (sub_send_request(w, c) < 0)
            sub_kill(w, c, "send", errno);
        return;
    }
    int e = SSL_get_error(c->ssl, k);
    if (e == SSL_ERROR_WANT_READ)
        sub_arm(w, c, false);
    else if (e == SSL_ERROR_WANT_WRITE)
        sub_arm(w, c, true);
    else
        sub_kill(w, c, "tls handshake", 0);
}

static void sub_event(struct worker *w, struct sconn *c, uint32_t ev)
{
    if (c->state == SS_CONNECTING) {
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err || (ev & (EPOLLERR | EPOLLHUP))) {
            sub_kill(w, c, "connect", err);
            return;
        }
        if (!(ev & EPOLLOUT))
            return;
        if (o.sub.tls) {
            c->ssl = SSL_new(ssl_ctx);
            SSL_set_fd(c->ssl, c->fd);
            SSL_set_tlsext_host_name(c->ssl, o.sub.host);
            c->state = SS_TLS;
            sub_tls_step(w, c);
            return;
        }
        c->state = SS_HEAD;
        if (sub_send_request(w, c) < 0)
            sub_kill(w, c, "send", errno);
        return;
    }
    if (c->state == SS_TLS) {
        sub_tls_step(w, c);
        return;
    }
    if ((ev & EPOLLOUT) && sub_flush(w, c) < 0) {
        sub_kill(w, c, "write", errno);
        return;
    }
    if (c->state == SS_HEAD && o.tr == TR_LP && !c->ready && c->out_len == 0)
        sub_mark_ready(w, c);
    if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        if (sub_read(w, c) < 0)
            sub_kill(w, c, "peer closed", errno == EAGAIN ? 0 : errno);
    }
}

static void worker_main(int id, unsigned n)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    raise_nofile();
    struct worker *w = calloc(1, sizeof *w);
    if (!w)
        _exit(111);
    w->id = id;
    w->ws = &sh->w[id];
    w->n = n;
    w->conns = calloc(n ? n : 1, sizeof *w->conns);
    w->chan_str = calloc(o.channels, sizeof *w->chan_str);
    w->ep = epoll_create1(EPOLL_CLOEXEC);
    if (!w->conns || !w->chan_str || w->ep < 0)
        _exit(111);
    for (unsigned k = 0; k < n; k++) {
        w->conns[k].idx = k;
        w->conns[k].fd = -1;
    }
    w->ws->mine = n;
    w->ws->t_conn_start = now_ns();
    uint64_t hard = now_ns() + (uint64_t)((o.connect_timeout + o.settle + o.idle + o.duration +
                                           o.drain + 60) * 1e9);
    struct epoll_event evs[512];
    while (load(&sh->phase) < 2 && now_ns() < hard && getppid() != 1) {
        while (w->next < n && w->inflight < o.hs_concurrency) {
            struct sconn *c = &w->conns[w->next++];
            w->inflight++;
            if (sub_start(w, c) < 0) {
                w->inflight--;
                w->ws->connect_fail++;
                werr(w, "connect", errno);
                c->state = SS_IDLE;
            }
        }
        if (!w->ws->ready && w->next == n && w->inflight == 0) {
            w->ws->t_conn_end = now_ns();
            store(&w->ws->ready, 1);
        }
        int k = epoll_wait(w->ep, evs, 512, 20);
        for (int i = 0; i < k; i++)
            sub_event(w, evs[i].data.ptr, evs[i].events);
    }
    for (unsigned k = 0; k < n; k++)
        if (w->conns[k].fd >= 0)
            close(w->conns[k].fd);
    store(&w->ws->done, 1);
    _exit(0);
}

/* ---- publisher ---- */

struct preq {
    uint64_t seq0;
    uint32_t count;
};

struct pconn {
    int fd;
    char *out;
    size_t out_len, out_off, out_cap;
    char *in;
    size_t in_len, in_cap;
    struct preq *q; /* FIFO of requests in flight */
    unsigned q_head, q_n, q_cap;
    unsigned reconnects;
    bool want_write;
    bool dead;
};

struct publisher {
    int ep;
    struct pconn c[MAX_PUB_CONNS];
    unsigned n;
    uint64_t t0;
    uint64_t next_seq;
    unsigned rr;
    char path_prefix[1024];
};

static void pc_reserve(struct pconn *c, size_t more)
{
    if (c->out_len + more <= c->out_cap)
        return;
    if (c->out_off) {
        memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
        c->out_len -= c->out_off;
        c->out_off = 0;
    }
    if (c->out_len + more <= c->out_cap)
        return;
    size_t cap = c->out_cap ? c->out_cap : 65536;
    while (cap < c->out_len + more)
        cap *= 2;
    c->out = realloc(c->out, cap);
    if (!c->out)
        die(111, "out of memory");
    c->out_cap = cap;
}

static void pc_put(struct pconn *c, const void *p, size_t n)
{
    pc_reserve(c, n);
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
}

static size_t put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

static int hexval(int ch)
{
    return isdigit(ch) ? ch - '0' : (tolower(ch) - 'a' + 10);
}

static uint64_t msg_time(struct publisher *p, uint64_t seq)
{
    if (o.rate > 0)
        return p->t0 + (uint64_t)((double)seq * 1e9 / o.rate); /* scheduled time */
    return now_ns();
}

static int make_body(struct publisher *p, uint64_t seq, char *out, size_t cap)
{
    int n = snprintf(out, cap, "{\"t\":%" PRIu64 ",\"seq\":%" PRIu64 "%s", msg_time(p, seq), seq,
                     o.body_pad ? ",\"pad\":\"" : "}");
    if (o.body_pad) {
        for (unsigned i = 0; i < o.body_pad && (size_t)n + 3 < cap; i++)
            out[n++] = 'x';
        out[n++] = '"';
        out[n++] = '}';
        out[n] = '\0';
    }
    return n;
}

/* Queues one request carrying messages [seq, seq+count) on c. */
static void pub_queue(struct publisher *p, struct pconn *c, uint64_t seq, uint32_t count)
{
    char body[4096], chan[128], path[2048], head[2600];
    if (o.pm == PM_REDIS) {
        int bl = make_body(p, seq, body, sizeof body);
        channel_name((unsigned)(seq % o.channels), chan, sizeof chan);
        int hn = snprintf(head, sizeof head, "*3\r\n$7\r\nPUBLISH\r\n$%zu\r\n%s\r\n$%d\r\n",
                          strlen(chan), chan, bl);
        pc_put(c, head, (size_t)hn);
        pc_put(c, body, (size_t)bl);
        pc_put(c, "\r\n", 2);
    } else if (o.pm == PM_TEXT) {
        int bl = make_body(p, seq, body, sizeof body);
        channel_name((unsigned)(seq % o.channels), chan, sizeof chan);
        expand(o.pub.path, chan, path, sizeof path);
        int hn = snprintf(head, sizeof head,
                          "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Length: %d\r\n\r\n", path,
                          o.pub.host, o.pub.port, bl);
        pc_put(c, head, (size_t)hn);
        pc_put(c, body, (size_t)bl);
    } else {
        /* RequestBatch{1: Request{1: IncomingMessagesRequest{1: IncomingMessage*}}},
         * IncomingMessage{1: Receiver{1: id(16), 2: isPrivate}, 3: body, 4: expiry} */
        static uint8_t im[1 << 20];
        size_t il = 0;
        for (uint32_t k = 0; k < count; k++) {
            uint8_t one[4200];
            size_t ol = 0;
            channel_name((unsigned)((seq + k) % o.channels), chan, sizeof chan);
            one[ol++] = 0x0a;
            one[ol++] = 20;
            one[ol++] = 0x0a;
            one[ol++] = 16;
            for (int b = 0; b < 16; b++)
                one[ol++] = (uint8_t)(hexval(chan[2 * b]) << 4 | hexval(chan[2 * b + 1]));
            one[ol++] = 0x10;
            one[ol++] = 1;
            int bl = make_body(p, seq + k, body, sizeof body);
            one[ol++] = 0x1a;
            ol += put_varint(one + ol, (uint64_t)bl);
            memcpy(one + ol, body, (size_t)bl);
            ol += (size_t)bl;
            one[ol++] = 0x20;
            ol += put_varint(one + ol, 86400);
            if (il + ol + 8 > sizeof im)
                break;
            im[il++] = 0x0a;
            il += put_varint(im + il, ol);
            memcpy(im + il, one, ol);
            il += ol;
        }
        uint8_t hdr[32];
        size_t hl = 0;
        uint8_t req_hdr[16];
        size_t rl = 0;
        req_hdr[rl++] = 0x0a; /* Request.incomingMessages */
        rl += put_varint(req_hdr + rl, il);
        hdr[hl++] = 0x0a; /* RequestBatch.requests */
        hl += put_varint(hdr + hl, rl + il);
        size_t total = hl + rl + il;
        int hn = snprintf(head, sizeof head,
                          "POST %s HTTP/1.1\r\nHost: %s:%d\r\n"
                          "Content-Type: application/octet-stream\r\nContent-Length: %zu\r\n\r\n",
                          o.pub.path, o.pub.host, o.pub.port, total);
        pc_put(c, head, (size_t)hn);
        pc_put(c, hdr, hl);
        pc_put(c, req_hdr, rl);
        pc_put(c, im, il);
    }
    if (c->q_n == c->q_cap) {
        unsigned ncap = c->q_cap ? c->q_cap * 2 : 64;
        struct preq *nq = malloc(ncap * sizeof *nq);
        if (!nq)
            die(111, "out of memory");
        for (unsigned i = 0; i < c->q_n; i++)
            nq[i] = c->q[(c->q_head + i) % c->q_cap];
        free(c->q);
        c->q = nq;
        c->q_cap = ncap;
        c->q_head = 0;
    }
    c->q[(c->q_head + c->q_n) % c->q_cap] = (struct preq){seq, count};
    c->q_n++;
    sh->p.requests++;
    sh->p.msgs_sent += count;
}

static void pub_ack(struct preq r, bool ok, uint64_t now)
{
    if (!ok) {
        sh->p.pub_errors += r.count;
        return;
    }
    sh->p.published += r.count;
    for (uint32_t k = 0; k < r.count; k++)
        sh->p.expected += subs_on_channel((unsigned)((r.seq0 + k) % o.channels));
    sh->p.t_last_ack = now;
}

/* Parses answers in c->in; returns -1 on a protocol error. */
static int pub_parse(struct pconn *c, uint64_t now)
{
    size_t off = 0;
    for (int guard = 0; guard < 100000 && off < c->in_len && c->q_n; guard++) {
        char *p = c->in + off;
        size_t n = c->in_len - off;
        bool ok;
        size_t used;
        if (o.pm == PM_REDIS) {
            char *eol = memmem(p, n, "\r\n", 2);
            if (!eol)
                break;
            ok = p[0] == ':';
            if (!ok)
                snprintf(sh->p.last_err, sizeof sh->p.last_err, "%.*s", (int)(eol - p), p);
            used = (size_t)(eol + 2 - p);
        } else {
            char *e = memmem(p, n, "\r\n\r\n", 4);
            if (!e)
                break;
            struct resp_head h;
            size_t hl = (size_t)(e + 4 - p);
            if (parse_head(p, hl, &h) < 0)
                return -1;
            size_t bl = 0;
            if (h.chunked) {
                /* walk the chunks; all must be here */
                size_t q = hl;
                bool complete = false;
                for (int g = 0; g < 1000; g++) {
                    char *le = memmem(p + q, n - q, "\r\n", 2);
                    if (!le)
                        break;
                    size_t cl = strtoul(p + q, NULL, 16);
                    q = (size_t)(le + 2 - p) + cl + 2;
                    if (q > n)
                        break;
                    if (cl == 0) {
                        complete = true;
                        break;
                    }
                }
                if (!complete)
                    break;
                bl = q - hl;
            } else if (h.clen > 0) {
                bl = (size_t)h.clen;
            }
            if (hl + bl > n)
                break;
            ok = h.status >= 200 && h.status < 300;
            if (!ok)
                snprintf(sh->p.last_err, sizeof sh->p.last_err, "HTTP %d", h.status);
            used = hl + bl;
        }
        struct preq r = c->q[c->q_head];
        c->q_head = (c->q_head + 1) % c->q_cap;
        c->q_n--;
        pub_ack(r, ok, now);
        off += used;
    }
    memmove(c->in, c->in + off, c->in_len - off);
    c->in_len -= off;
    return 0;
}

static void pub_arm(struct publisher *p, struct pconn *c, bool wr)
{
    if (c->want_write == wr)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (wr ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(p->ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_write = wr;
}

/* Fails what c had in flight and opens a new connection in its place (a
 * server may end keep-alive after so many requests); dead if that fails. */
static void pub_close(struct publisher *p, struct pconn *c, const char *why)
{
    if (c->dead)
        return;
    snprintf(sh->p.last_err, sizeof sh->p.last_err, "publisher: %s", why);
    for (unsigned i = 0; i < c->q_n; i++)
        sh->p.pub_errors += c->q[(c->q_head + i) % c->q_cap].count;
    c->q_n = 0;
    c->q_head = 0;
    c->in_len = c->out_len = c->out_off = 0;
    epoll_ctl(p->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    struct sockaddr_in dst;
    c->fd = tcp_socket(&o.pub, 0, &dst);
    if (c->fd < 0 || ++c->reconnects > 100) {
        c->dead = true;
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    c->want_write = true;
    epoll_ctl(p->ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static void pub_flush(struct publisher *p, struct pconn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t r = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                pub_arm(p, c, true);
                return;
            }
            pub_close(p, c, strerror(errno));
            return;
        }
        c->out_off += (size_t)r;
    }
    c->out_off = c->out_len = 0;
    pub_arm(p, c, false);
}

static void pub_read(struct publisher *p, struct pconn *c, uint64_t now)
{
    for (int rounds = 0; rounds < 64; rounds++) {
        if (c->in_cap - c->in_len < 65536) {
            c->in_cap = c->in_cap ? c->in_cap * 2 : 262144;
            c->in = realloc(c->in, c->in_cap);
            if (!c->in)
                die(111, "out of memory");
        }
        ssize_t r = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
        if (r < 0) {
            if (errno != EAGAIN && errno != EINTR)
                pub_close(p, c, strerror(errno));
            return;
        }
        if (r == 0) {
            pub_close(p, c, "server closed the connection");
            return;
        }
        c->in_len += (size_t)r;
        if (pub_parse(c, now) < 0) {
            pub_close(p, c, "bad answer");
            return;
        }
    }
}

static void publisher_main(void)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    raise_nofile();
    struct publisher *p = calloc(1, sizeof *p);
    if (!p)
        _exit(111);
    p->ep = epoll_create1(EPOLL_CLOEXEC);
    p->n = o.pub_conns;
    for (unsigned i = 0; i < p->n; i++) {
        struct sockaddr_in dst;
        struct pconn *c = &p->c[i];
        c->fd = tcp_socket(&o.pub, 0, &dst);
        if (c->fd < 0)
            die(111, "publisher connect: %s", strerror(errno));
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
        c->want_write = true;
        epoll_ctl(p->ep, EPOLL_CTL_ADD, c->fd, &ev);
    }
    store(&sh->p.ready, 1);
    uint64_t give_up = now_ns() + (uint64_t)((o.connect_timeout + o.settle + o.idle + 60) * 1e9);
    while (load(&sh->phase) == 0 && now_ns() < give_up)
        usleep(1000);
    if (load(&sh->phase) != 1)
        _exit(0);
    p->t0 = now_ns();
    sh->p.t_start = p->t0;
    uint64_t end = p->t0 + (uint64_t)(o.duration * 1e9);
    uint64_t hard = end + (uint64_t)(o.drain * 1e9);
    unsigned per_req = o.pm == PM_PB ? o.batch : 1;
    struct epoll_event evs[MAX_PUB_CONNS];
    for (;;) {
        uint64_t now = now_ns();
        bool sending = now < end && p->next_seq < o.max_msgs;
        unsigned inflight = 0;
        for (unsigned i = 0; i < p->n; i++)
            inflight += p->c[i].dead ? 0 : p->c[i].q_n;
        if ((!sending && inflight == 0) || now >= hard || load(&sh->phase) >= 2)
            break;
        if (sending) {
            uint64_t due = o.max_msgs;
            if (o.rate > 0) {
                due = (uint64_t)((double)(now - p->t0) * o.rate / 1e9) + 1;
                if (due > o.max_msgs)
                    due = o.max_msgs;
                if (p->next_seq < due) {
                    uint64_t lag = now - (p->t0 + (uint64_t)((double)p->next_seq * 1e9 / o.rate));
                    if (lag > sh->p.max_lag_ns)
                        sh->p.max_lag_ns = lag;
                }
            }
            /* fill connections up to the pipeline depth, round-robin */
            for (unsigned tries = 0; p->next_seq < due && tries < p->n * o.depth + p->n;) {
                if (o.pm == PM_PB && o.rate > 0 && due - p->next_seq < per_req &&
                    due < o.max_msgs)
                    break; /* wait for a whole batch */
                struct pconn *c = &p->c[p->rr++ % p->n];
                if (c->dead || c->q_n >= o.depth) {
                    tries++;
                    continue;
                }
                uint64_t cnt = due - p->next_seq < per_req ? due - p->next_seq : per_req;
                pub_queue(p, c, p->next_seq, (uint32_t)cnt);
                p->next_seq += cnt;
            }
            for (unsigned i = 0; i < p->n; i++)
                if (!p->c[i].dead && p->c[i].out_len > p->c[i].out_off)
                    pub_flush(p, &p->c[i]);
        }
        int tmo = o.rate > 0 ? 1 : 10;
        int k = epoll_wait(p->ep, evs, MAX_PUB_CONNS, tmo);
        now = now_ns();
        for (int i = 0; i < k; i++) {
            struct pconn *c = evs[i].data.ptr;
            if (c->dead)
                continue;
            if (evs[i].events & EPOLLOUT)
                pub_flush(p, c);
            if (!c->dead && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                pub_read(p, c, now);
        }
        bool all_dead = true;
        for (unsigned i = 0; i < p->n; i++)
            all_dead &= p->c[i].dead;
        if (all_dead)
            break;
    }
    sh->p.t_end = now_ns();
    store(&sh->p.done, 1);
    _exit(0);
}

/* ---- probe: how promptly the publish port answers during a fan-out ---- */

/* One request on a blocking keep-alive connection; the answer read whole
 * (head, then Content-Length bytes). Returns the time it took, or 0 on error
 * (the connection is then closed and reopened). */
static uint64_t probe_once(int *fd, const char *req, size_t n)
{
    struct sockaddr_in dst;
    if (*fd < 0) {
        *fd = tcp_socket(&o.pub, 0, &dst);
        if (*fd < 0)
            return 0;
        int fl = fcntl(*fd, F_GETFL);
        fcntl(*fd, F_SETFL, fl & ~O_NONBLOCK);
        struct timeval tv = {5, 0};
        setsockopt(*fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(*fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    }
    uint64_t t0 = now_ns();
    char buf[4096];
    size_t have = 0;
    long clen = -1;
    size_t head = 0;
    if (write(*fd, req, n) != (ssize_t)n)
        goto fail;
    for (int guard = 0; guard < 64; guard++) {
        ssize_t r = read(*fd, buf + have, sizeof buf - 1 - have);
        if (r <= 0)
            goto fail;
        have += (size_t)r;
        buf[have] = '\0';
        if (!head) {
            char *e = strstr(buf, "\r\n\r\n");
            if (!e)
                continue;
            head = (size_t)(e + 4 - buf);
            char *cl = strcasestr(buf, "\r\nContent-Length:");
            clen = cl && cl < e ? strtol(cl + 17, NULL, 10) : 0;
            if (strncmp(buf, "HTTP/1.1 2", 10) != 0)
                goto fail;
        }
        if (head && have >= head + (size_t)clen)
            return now_ns() - t0;
        if (have >= sizeof buf - 1)
            goto fail;
    }
fail:
    close(*fd);
    *fd = -1;
    return 0;
}

static void probe_main(void)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    char pub[1024], health[512], path[1100];
    expand(o.pub.path, "b0b0b0b0000000000000000000fffffe", path, sizeof path);
    const char *body = "{\"probe\":1}";
    int pn = snprintf(pub, sizeof pub, "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Length: %zu\r\n\r\n%s",
                      path, o.pub.host, o.pub.port, strlen(body), body);
    int hn = snprintf(health, sizeof health, "GET /health HTTP/1.1\r\nHost: %s:%d\r\n\r\n", o.pub.host,
                      o.pub.port);
    int fp = -1, fh = -1;
    uint64_t give_up = now_ns() + (uint64_t)((o.connect_timeout + o.settle + o.idle + 60) * 1e9);
    while (load(&sh->phase) == 0 && now_ns() < give_up)
        usleep(1000);
    /* while publishing, and while the drain still delivers (the fan-outs go on) */
    uint64_t end = now_ns() + (uint64_t)((o.duration + o.drain) * 1e9);
    for (uint64_t next = now_ns(); load(&sh->phase) == 1 && now_ns() < end;) {
        uint64_t t = probe_once(&fp, pub, (size_t)pn);
        if (t)
            hist_add(&sh->q.pub, t);
        else
            sh->q.errors++;
        t = probe_once(&fh, health, (size_t)hn);
        if (t)
            hist_add(&sh->q.health, t);
        else
            sh->q.errors++;
        next += 10000000ull;
        uint64_t now = now_ns();
        if (next > now)
            usleep((useconds_t)((next - now) / 1000));
        else
            next = now;
    }
    _exit(0);
}

/* fn in a child process of its own (fn ends with _exit) */
static pid_t spawn(void (*fn)(void))
{
    pid_t pid = fork();
    if (pid < 0)
        die(111, "fork: %s", strerror(errno));
    if (pid == 0)
        fn();
    return pid;
}

/* ---- server /proc ---- */

struct srv {
    uint64_t rss_kb;
    uint64_t cpu_ns;
    uint64_t utime_ticks, stime_ticks; /* /proc/<pid>/stat, all threads */
    uint64_t cpu_ns_pid[MAX_PIDS]; /* the same, per -x process: who of several did the work */
};

static uint64_t proc_cpu_ns(pid_t pid)
{
    char path[64];
    uint64_t sum = 0;
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return 0;
    struct dirent *e;
    for (int guard = 0; guard < 4096 && (e = readdir(d)); guard++) {
        if (e->d_name[0] == '.')
            continue;
        char sp[300];
        snprintf(sp, sizeof sp, "/proc/%d/task/%s/schedstat", (int)pid, e->d_name);
        FILE *f = fopen(sp, "r");
        if (!f)
            continue;
        unsigned long long run = 0;
        if (fscanf(f, "%llu", &run) == 1)
            sum += run;
        fclose(f);
    }
    closedir(d);
    return sum;
}

/* utime and stime of the whole process (fields 14 and 15 of /proc/<pid>/stat) */
static void proc_times(pid_t pid, uint64_t *ut, uint64_t *st)
{
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    const char *q = strrchr(line, ')'); /* the command name may hold spaces */
    unsigned long long u = 0, k = 0;
    if (q && sscanf(q + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &u, &k) == 2) {
        *ut += u;
        *st += k;
    }
}

static uint64_t proc_rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    uint64_t kb = 0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6))
            kb = strtoull(line + 6, NULL, 10);
    fclose(f);
    return kb;
}

static struct srv srv_read(void)
{
    struct srv s = {0};
    for (unsigned i = 0; i < o.n_pids; i++) {
        s.rss_kb += proc_rss_kb(o.pids[i]);
        s.cpu_ns_pid[i] = proc_cpu_ns(o.pids[i]);
        s.cpu_ns += s.cpu_ns_pid[i];
        proc_times(o.pids[i], &s.utime_ticks, &s.stime_ticks);
    }
    return s;
}

/* ---- parent ---- */

static void sum_workers(struct wstat *t)
{
    memset(t, 0, sizeof *t);
    for (unsigned i = 0; i < o.workers; i++) {
        struct wstat *w = &sh->w[i];
        t->mine += w->mine;
        t->connected += w->connected;
        t->connect_fail += w->connect_fail;
        t->dropped += w->dropped;
        t->delivered += w->delivered;
        t->reconnects += w->reconnects;
        t->pings += w->pings;
        t->rx_bytes += w->rx_bytes;
        if (w->t_conn_end > t->t_conn_end)
            t->t_conn_end = w->t_conn_end;
        if (!t->t_conn_start || w->t_conn_start < t->t_conn_start)
            t->t_conn_start = w->t_conn_start;
        if (w->t_last_delivery > t->t_last_delivery)
            t->t_last_delivery = w->t_last_delivery;
        if (w->last_err[0] && !t->last_err[0])
            memcpy(t->last_err, w->last_err, sizeof t->last_err);
    }
}

static void sleep_s(double s)
{
    if (s <= 0)
        return;
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

static void usage(void)
{
    fputs(
        "usage: loadgen [options]\n"
        "  -s URL     subscriber URL template, {ch} = channel id: ws://, wss://, http://,\n"
        "             https://, redis://host:port\n"
        "  -T TR      ws | lp | es | redis (default from the URL scheme; http = lp)\n"
        "  -n N       subscribers (0)            -c C   channels, round-robin (1)\n"
        "  -w W       subscriber worker processes (default N/10000 rounded up)\n"
        "  -S K       spread over source addresses 127.0.0.2..127.0.0.(K+1); 0 = none (16)\n"
        "  -p URL     publish URL template (http://...?CHANNEL_ID={ch} or redis://host:port)\n"
        "  -P MODE    text | pb | redis (protobuf RequestBatch of -b messages)\n"
        "  -b B       messages per protobuf request (100)\n"
        "  -r R       messages per second, 0 = flat out (0)\n"
        "  -d S       seconds of publishing (10)   -m M  most messages (1e8)\n"
        "  -k K       publisher connections (4)     -D D  requests in flight per connection (32)\n"
        "  -K KEY     sign channel ids: id.<hex hmac-sha1(KEY, id)>\n"
        "  -F PREFIX  channel id = PREFIX + hex index, 32 characters in all (b0b0b0b0)\n"
        "  -x PID,..  server processes to read /proc of (CPU, RSS: summed; CPU also per PID)\n"
        "  -i S       idle seconds after connecting before the memory reading (0)\n"
        "  -e S       settle seconds before publishing (1)\n"
        "  -t S       drain: seconds to wait for deliveries after publishing (10)\n"
        "  -C S       connect phase timeout (60)   -H H  handshakes in flight per worker (256)\n"
        "  -B N       pad each body with N bytes\n"
        "  -Q         probe: every 10 ms while publishing, time a publish to an unread\n"
        "             channel and GET /health on connections of their own (-p's host)\n"
        "  -L LABEL   label in the report          -j FILE  append the JSON line to FILE\n",
        stderr);
    exit(100);
}

static void parse_args(int argc, char **argv)
{
    const char *tr = NULL, *pm = NULL;
    int ch;
    while ((ch = getopt(argc, argv, "s:T:n:c:w:S:p:P:b:r:d:m:k:D:K:F:x:i:e:t:C:H:B:L:j:Qh")) != -1) {
        switch (ch) {
        case 's':
            if (parse_url(optarg, &o.sub) < 0)
                die(100, "bad subscriber URL %s", optarg);
            o.have_sub = true;
            if (!tr)
                o.tr = o.sub.redis ? TR_REDIS : (!strncmp(optarg, "ws", 2) ? TR_WS : TR_LP);
            break;
        case 'T':
            tr = optarg;
            break;
        case 'n':
            o.subs = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'c':
            o.channels = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'w':
            o.workers = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'S':
            o.src_addrs = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'p':
            if (parse_url(optarg, &o.pub) < 0)
                die(100, "bad publish URL %s", optarg);
            o.have_pub = true;
            break;
        case 'P':
            pm = optarg;
            break;
        case 'b':
            o.batch = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'r':
            o.rate = strtod(optarg, NULL);
            break;
        case 'd':
            o.duration = strtod(optarg, NULL);
            break;
        case 'm':
            o.max_msgs = strtoull(optarg, NULL, 10);
            break;
        case 'k':
            o.pub_conns = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'D':
            o.depth = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'K':
            snprintf(o.sign_key, sizeof o.sign_key, "%s", optarg);
            break;
        case 'F':
            snprintf(o.chan_fmt, sizeof o.chan_fmt, "%s", optarg);
            break;
        case 'x': {
            char *save = NULL;
            for (char *t = strtok_r(optarg, ",", &save); t && o.n_pids < MAX_PIDS;
                 t = strtok_r(NULL, ",", &save))
                o.pids[o.n_pids++] = (pid_t)atoi(t);
            break;
        }
        case 'i':
            o.idle = strtod(optarg, NULL);
            break;
        case 'e':
            o.settle = strtod(optarg, NULL);
            break;
        case 't':
            o.drain = strtod(optarg, NULL);
            break;
        case 'C':
            o.connect_timeout = strtod(optarg, NULL);
            break;
        case 'H':
            o.hs_concurrency = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'B':
            o.body_pad = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'L':
            o.label = optarg;
            break;
        case 'Q':
            o.probe = true;
            break;
        case 'j':
            o.json_path = optarg;
            break;
        default:
            usage();
        }
    }
    if (optind != argc)
        usage();
    if (tr) {
        if (!strcmp(tr, "ws"))
            o.tr = TR_WS;
        else if (!strcmp(tr, "lp"))
            o.tr = TR_LP;
        else if (!strcmp(tr, "es"))
            o.tr = TR_ES;
        else if (!strcmp(tr, "redis"))
            o.tr = TR_REDIS;
        else
            die(100, "unknown transport %s", tr);
    }
    o.pm = !o.have_pub ? PM_NONE : o.pub.redis ? PM_REDIS : PM_TEXT;
    if (pm && o.have_pub) {
        if (!strcmp(pm, "text"))
            o.pm = PM_TEXT;
        else if (!strcmp(pm, "pb"))
            o.pm = PM_PB;
        else if (!strcmp(pm, "redis"))
            o.pm = PM_REDIS;
        else
            die(100, "unknown publish mode %s", pm);
    }
    if (o.subs && !o.have_sub)
        die(100, "-n needs -s");
    if (o.probe && (o.pm != PM_TEXT || o.pub.tls))
        die(100, "-Q needs an http:// publish URL (-p)");
    if (!o.channels)
        o.channels = 1;
    if (!o.workers)
        o.workers = o.subs ? (o.subs + 9999) / 10000 : 0;
    if (o.subs && !o.workers)
        o.workers = 1;
    if (o.workers > MAX_WORKERS)
        die(100, "at most %d workers", MAX_WORKERS);
    if (o.subs && o.subs / o.workers > 18000)
        die(100, "%u subscribers per worker exceed the open-file limit; raise -w",
            o.subs / o.workers);
    if (!o.pub_conns || o.pub_conns > MAX_PUB_CONNS)
        die(100, "-k must be 1..%d", MAX_PUB_CONNS);
    if (!o.depth)
        o.depth = 1;
    if (!o.batch || o.batch > 1000)
        die(100, "-b must be 1..1000");
    if (o.duration <= 0 || o.duration > 3600)
        die(100, "-d must be in (0, 3600]");
    if (o.pm == PM_PB) {
        char t[128];
        channel_name(0, t, sizeof t);
        if (strlen(t) != 32)
            die(100, "protobuf publishing needs 32-hex channel ids (-F)");
    }
}

static double ms(uint64_t ns)
{
    return (double)ns / 1e6;
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    if (o.sub.tls)
        tls_init();
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED)
        die(111, "mmap: %s", strerror(errno));

    struct srv s0 = srv_read();
    pid_t kids[MAX_WORKERS + 1];
    unsigned nk = 0;
    uint64_t t_conn0 = now_ns();
    for (unsigned i = 0; i < o.workers; i++) {
        unsigned n = o.subs / o.workers + (i < o.subs % o.workers ? 1 : 0);
        pid_t pid = fork();
        if (pid < 0)
            die(111, "fork: %s", strerror(errno));
        if (pid == 0)
            worker_main((int)i, n);
        kids[nk++] = pid;
    }
    if (o.pm != PM_NONE)
        kids[nk++] = spawn(publisher_main);
    if (o.probe)
        kids[nk++] = spawn(probe_main);

    /* connect phase */
    uint64_t deadline = t_conn0 + (uint64_t)(o.connect_timeout * 1e9);
    for (;;) {
        unsigned ready = 0;
        for (unsigned i = 0; i < o.workers; i++)
            ready += (unsigned)load(&sh->w[i].ready);
        if (ready == o.workers || now_ns() > deadline)
            break;
        usleep(5000);
    }
    struct wstat t;
    sum_workers(&t);
    uint64_t t_conn1 = t.t_conn_end ? t.t_conn_end : now_ns();
    sleep_s(o.idle);
    sleep_s(o.settle);
    struct srv s1 = srv_read();
    sum_workers(&t);
    uint64_t connected_idle = t.connected - t.dropped;

    /* publish phase */
    struct srv s2 = s1, s3 = s1;
    if (o.pm != PM_NONE) {
        for (uint64_t until = now_ns() + 10000000000ull; !load(&sh->p.ready) && now_ns() < until;)
            usleep(1000);
        s2 = srv_read();
        store(&sh->phase, 1);
        uint64_t pub_deadline = now_ns() + (uint64_t)((o.duration + o.drain + 5) * 1e9);
        while (!load(&sh->p.done) && now_ns() < pub_deadline)
            usleep(2000);
        uint64_t drain_end = now_ns() + (uint64_t)(o.drain * 1e9);
        uint64_t last_count = 0, last_change = now_ns();
        for (;;) {
            sum_workers(&t);
            uint64_t now = now_ns();
            if (t.delivered >= sh->p.expected || now > drain_end)
                break;
            if (t.delivered != last_count) {
                last_count = t.delivered;
                last_change = now;
            } else if (now - last_change > 3000000000ull && o.tr != TR_LP) {
                break; /* nothing arrives any more */
            }
            usleep(2000);
        }
        s3 = srv_read();
    }
    store(&sh->phase, 2);
    for (unsigned i = 0; i < o.workers; i++)
        for (uint64_t until = now_ns() + 5000000000ull; !load(&sh->w[i].done) && now_ns() < until;)
            usleep(2000);
    for (unsigned i = 0; i < nk; i++) {
        int st;
        for (int g = 0; g < 500 && waitpid(kids[i], &st, WNOHANG) == 0; g++)
            usleep(10000);
        if (waitpid(kids[i], &st, WNOHANG) == 0) {
            kill(kids[i], SIGKILL);
            waitpid(kids[i], &st, 0);
        }
    }

    /* ---- report ---- */
    sum_workers(&t);
    struct hist *h = calloc(1, sizeof *h);
    for (unsigned i = 0; i < o.workers; i++)
        hist_merge(h, &sh->w[i].h);
    struct pstat *p = &sh->p;
    double conn_s = (double)(t_conn1 - t_conn0) / 1e9;
    double conn_rate = conn_s > 0 ? (double)t.connected / conn_s : 0;
    double rss_per_conn =
        connected_idle ? ((double)s1.rss_kb - (double)s0.rss_kb) * 1024.0 / (double)connected_idle
                       : 0;
    double conn_cpu_us =
        t.connected ? (double)(s1.cpu_ns - s0.cpu_ns) / 1e3 / (double)t.connected : 0;
    uint64_t pub_span = p->t_last_ack > p->t_start ? p->t_last_ack - p->t_start : 0;
    double pub_rate = pub_span ? (double)p->published * 1e9 / (double)pub_span : 0;
    uint64_t del_span = t.t_last_delivery > p->t_start ? t.t_last_delivery - p->t_start : 0;
    double del_rate = del_span ? (double)t.delivered * 1e9 / (double)del_span : 0;
    uint64_t cpu = s3.cpu_ns - s2.cpu_ns;
    double cpu_per_del = t.delivered ? (double)cpu / (double)t.delivered : 0;
    double cpu_per_pub = p->published ? (double)cpu / (double)p->published : 0;
    uint64_t lost = p->expected > t.delivered ? p->expected - t.delivered : 0;
    uint64_t dup = t.delivered > p->expected ? t.delivered - p->expected : 0;
    static const char *trn[] = {"ws", "lp", "es", "redis"};
    static const char *pmn[] = {"text", "pb", "redis", "none"};

    long hz = sysconf(_SC_CLK_TCK);
    if (hz <= 0)
        hz = 100;
    char loadavg[64] = "";
    FILE *la = fopen("/proc/loadavg", "r");
    if (la) {
        if (!fgets(loadavg, sizeof loadavg, la))
            loadavg[0] = '\0';
        fclose(la);
        loadavg[strcspn(loadavg, " ")] = '\0';
    }
    /* CPU of the publish phase per -x process, in -x order: "[0.812,0.655,0.301]" */
    char by_pid[32 * MAX_PIDS + 3] = "[";
    for (unsigned i = 0; i < o.n_pids; i++) {
        size_t l = strlen(by_pid);
        uint64_t d = s3.cpu_ns_pid[i] > s2.cpu_ns_pid[i] ? s3.cpu_ns_pid[i] - s2.cpu_ns_pid[i] : 0;
        snprintf(by_pid + l, sizeof by_pid - l, "%s%.3f", i ? "," : "", (double)d / 1e9);
    }
    strcat(by_pid, "]");
    char json[4096];
    snprintf(json, sizeof json,
             "{\"label\":\"%s\",\"transport\":\"%s\",\"tls\":%s,\"pub_mode\":\"%s\","
             "\"subscribers\":%u,\"channels\":%u,\"workers\":%u,\"rate\":%g,\"duration\":%g,"
             "\"connected\":%" PRIu64 ",\"connect_fail\":%" PRIu64 ",\"connect_s\":%.3f,"
             "\"conn_per_s\":%.0f,\"rss_before_kb\":%" PRIu64 ",\"rss_idle_kb\":%" PRIu64
             ",\"rss_after_kb\":%" PRIu64 ",\"rss_per_conn_b\":%.0f,\"cpu_us_per_conn\":%.2f,"
             "\"requests\":%" PRIu64 ",\"published\":%" PRIu64 ",\"pub_errors\":%" PRIu64
             ",\"pub_per_s\":%.0f,\"pub_max_lag_ms\":%.3f,"
             "\"expected\":%" PRIu64 ",\"delivered\":%" PRIu64 ",\"lost\":%" PRIu64
             ",\"dup\":%" PRIu64 ",\"dropped\":%" PRIu64 ",\"reconnects\":%" PRIu64
             ",\"deliveries_per_s\":%.0f,"
             "\"lat_p50_ms\":%.3f,\"lat_p99_ms\":%.3f,\"lat_p999_ms\":%.3f,\"lat_max_ms\":%.3f,"
             "\"lat_mean_ms\":%.3f,\"server_cpu_s\":%.3f,\"server_cpu_s_by_pid\":%s,"
             "\"cpu_ns_per_delivery\":%.0f,"
             "\"cpu_ns_per_publish\":%.0f,\"user_s\":%.3f,\"kernel_s\":%.3f,"
             "\"rx_bytes\":%" PRIu64 ",\"wire_bytes_per_delivery\":%.1f,"
             "\"probe_pub_n\":%" PRIu64 ",\"probe_pub_p50_ms\":%.3f,\"probe_pub_p99_ms\":%.3f,"
             "\"probe_pub_max_ms\":%.3f,\"probe_health_n\":%" PRIu64 ",\"probe_health_p50_ms\":%.3f,"
             "\"probe_health_p99_ms\":%.3f,\"probe_health_max_ms\":%.3f,\"probe_errors\":%" PRIu64 ","
             "\"loadavg\":\"%s\",\"last_error\":\"%s\",\"pub_last_error\":\"%s\"}",
             o.label, trn[o.tr], o.sub.tls ? "true" : "false", pmn[o.pm], o.subs, o.channels,
             o.workers, o.rate, o.duration, t.connected, t.connect_fail, conn_s, conn_rate,
             s0.rss_kb, s1.rss_kb, s3.rss_kb, rss_per_conn, conn_cpu_us, p->requests,
             p->published, p->pub_errors, pub_rate, ms(p->max_lag_ns), p->expected, t.delivered,
             lost, dup, t.dropped, t.reconnects, del_rate, ms(hist_quantile(h, 0.5)),
             ms(hist_quantile(h, 0.99)), ms(hist_quantile(h, 0.999)), ms(h->max),
             h->n ? ms(h->sum / h->n) : 0.0, (double)cpu / 1e9, by_pid, cpu_per_del, cpu_per_pub,
             (double)(s3.utime_ticks - s2.utime_ticks) / (double)hz,
             (double)(s3.stime_ticks - s2.stime_ticks) / (double)hz, t.rx_bytes,
             t.delivered ? (double)t.rx_bytes / (double)t.delivered : 0.0, sh->q.pub.n,
             ms(hist_quantile(&sh->q.pub, 0.5)), ms(hist_quantile(&sh->q.pub, 0.99)), ms(sh->q.pub.max),
             sh->q.health.n, ms(hist_quantile(&sh->q.health, 0.5)), ms(hist_quantile(&sh->q.health, 0.99)),
             ms(sh->q.health.max), sh->q.errors, loadavg, t.last_err, p->last_err);
    for (char *q = json; *q; q++)
        if ((unsigned char)*q < 0x20)
            *q = ' ';
    puts(json);
    fflush(stdout);
    if (o.json_path) {
        FILE *f = fopen(o.json_path, "a");
        if (f) {
            fprintf(f, "%s\n", json);
            fclose(f);
        }
    }
    fprintf(stderr,
            "%s: %u %s subscribers on %u channels: %" PRIu64 " connected (%" PRIu64
            " failed) in %.2f s (%.0f/s)\n"
            "  server RSS %" PRIu64 " -> %" PRIu64 " KiB idle: %.0f B per connection\n",
            o.label, o.subs, trn[o.tr], o.channels, t.connected, t.connect_fail, conn_s, conn_rate,
            s0.rss_kb, s1.rss_kb, rss_per_conn);
    if (o.pm != PM_NONE)
        fprintf(stderr,
                "  published %" PRIu64 " (%" PRIu64 " errors) at %.0f/s; delivered %" PRIu64
                " of %" PRIu64 " (lost %" PRIu64 ", dropped subscribers %" PRIu64 ") at %.0f/s\n"
                "  latency p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms\n"
                "  server CPU %.3f s: %.0f ns per delivery, %.0f ns per publish\n",
                p->published, p->pub_errors, pub_rate, t.delivered, p->expected, lost, t.dropped,
                del_rate, ms(hist_quantile(h, 0.5)), ms(hist_quantile(h, 0.99)),
                ms(hist_quantile(h, 0.999)), ms(h->max), (double)cpu / 1e9, cpu_per_del,
                cpu_per_pub);
    if (t.last_err[0] || p->last_err[0])
        fprintf(stderr, "  last error: %s %s\n", t.last_err, p->last_err);
    free(h);
    return 0;
}
