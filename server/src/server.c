#include "first.h"

#include "server.h"
#include "http.h"
#include "http_request.h"
#include "journal.h"
#include "lastseen.h"
#include "pub.h"
#include "publish.h"
#include "sub.h"
#include "log.h"
#include "net.h"
#include "store.h"
#include "tls.h"
#include "util.h"
#include "worker.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SERVER_TICK 0.25         /* seconds between timeout checks */
#define SERVER_SWEEP_BUCKETS 256 /* channel buckets looked at per tick */
#define SERVER_ACCEPTS_PER_EVENT 128

void server_keyring_load(struct sign_keyring *kr, const struct config *cfg)
{
    memset(kr, 0, sizeof *kr);
    kr->algo = cfg->signature_algorithm == CONFIG_ALGO_SHA256 ? SIGN_SHA256 : SIGN_SHA1;
    kr->keys[0] = xstrdup(cfg->signature_key);
    kr->key_len[0] = strlen(cfg->signature_key);
    kr->n_keys = 1;
    if (cfg->signature_key_previous[0]) {
        kr->keys[1] = xstrdup(cfg->signature_key_previous);
        kr->key_len[1] = strlen(cfg->signature_key_previous);
        kr->n_keys = 2;
    }
}

void server_keyring_free(struct sign_keyring *kr)
{
    for (size_t i = 0; i < kr->n_keys; i++) {
        /* keys do not linger in freed memory */
        memset(kr->keys[i], 0, kr->key_len[i]);
        free(kr->keys[i]);
    }
    memset(kr, 0, sizeof *kr);
}

/* Answers a connection refused at accept with 503 and closes it: a
 * best-effort answer the client can read (plain HTTP only: a TLS client
 * would take it for garbage either way). */
static void refuse_busy(struct listener *l, int fd, const char *text)
{
    char busy[320];
    int n = snprintf(busy, sizeof busy,
                     "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
                     "Access-Control-Allow-Origin: *\r\nRetry-After: 5\r\nConnection: close\r\n"
                     "Content-Length: %zu\r\n\r\n%s",
                     strlen(text), text);
    if (!l->tls && n > 0 && (size_t)n < sizeof busy && write(fd, busy, (size_t)n) < 0) {
        /* nothing more to do for a peer that is gone */
    }
    close(fd);
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    struct listener *l = w->data;
    struct server *s = l->srv;
    for (int i = 0; i < SERVER_ACCEPTS_PER_EVENT; i++) {
        struct sockaddr_storage ss;
        int fd = net_accept(l->fd, &ss, NULL, 0);
        if (fd < 0) {
            if (fd == -EMFILE || fd == -ENFILE) {
                log_warn("accept on %s: out of file descriptors", l->addr);
                s->m.drops_limit++;
            }
            return;
        }
        /* with workers the limit counts every worker's connections */
        unsigned n_open =
            s->hub ? atomic_load_explicit(&s->hub->n_client_conns, memory_order_relaxed)
                   : s->m.n_client_conns;
        if (l->role == ROLE_SUBSCRIBE && n_open >= (unsigned)s->cfg.max_connections) {
            refuse_busy(l, fd, "Too many connections (max-connections reached)");
            s->m.drops_limit++;
            continue;
        }
        struct addr_key key;
        bool keyed = l->role == ROLE_SUBSCRIBE && s->cfg.max_connections_per_address > 0 &&
                     (s->cfg.per_address_loopback || !addr_is_loopback((struct sockaddr *)&ss)) &&
                     addr_key_of((struct sockaddr *)&ss, &key);
        if (keyed && !addr_table_acquire(s->home->addrs, &key,
                                         (unsigned)s->cfg.max_connections_per_address)) {
            refuse_busy(l, fd,
                        "Too many connections from your address (max-connections-per-address)");
            s->m.drops_per_address++;
            if (log_level >= LOG_LVL_DEBUG) {
                char a[64];
                addr_key_format(&key, a);
                log_debug("connection from %s refused: max-connections-per-address", a);
            }
            continue;
        }
        conn_accept(l, fd, keyed ? &key : NULL);
    }
}

static int open_listeners(struct server *s, const char *list, enum conn_role role, bool tls,
                          char *err, size_t errlen)
{
    if (strcmp(list, "off") == 0 || !*list)
        return 0;
    char *copy = xstrdup(list), *save = NULL;
    for (char *a = strtok_r(copy, ", ", &save); a; a = strtok_r(NULL, ", ", &save)) {
        char nerr[NET_ERR_LEN];
        /* with workers, each has its own socket on a subscribe port */
        int fd = net_listen(a, 1024, s->hub && role == ROLE_SUBSCRIBE, nerr);
        if (fd < 0) {
            snprintf(err, errlen, "%s%s: %s",
                     role == ROLE_SUBSCRIBE ? "listen-subscribe" : "listen-publish",
                     tls ? "-tls" : "", nerr);
            free(copy);
            return -1;
        }
        s->listeners = xrealloc(s->listeners, (s->n_listeners + 1) * sizeof *s->listeners);
        struct listener *l = &s->listeners[s->n_listeners++];
        memset(l, 0, sizeof *l);
        l->fd = fd;
        l->role = role;
        l->tls = tls;
        l->proto = &http_request_ops;
        l->srv = s;
        char shown[300];
        snprintf(shown, sizeof shown, "%s", a);
        int port = net_local_port(fd);
        char *colon = strrchr(shown, ':');
        if (colon && port >= 0)
            snprintf(colon + 1, sizeof shown - (size_t)(colon + 1 - shown), "%d", port);
        l->addr = xstrdup(shown);
    }
    free(copy);
    return 0;
}

static bool tls_wanted(const struct config *cfg)
{
    bool sub = *cfg->listen_subscribe_tls && strcmp(cfg->listen_subscribe_tls, "off") != 0;
    bool pub = *cfg->listen_publish_tls && strcmp(cfg->listen_publish_tls, "off") != 0;
    return sub || pub;
}

/* Frees the closed connections, after letting go of what they waited for
 * (a publish confirmation, a catch-up fetch): those answers come later
 * and must find no freed connection. */
static void reap(struct server *s)
{
    struct list_node *pos, *tmp;
    list_for_each_safe(pos, tmp, &s->closing)
    {
        struct conn *c = container_of(pos, struct conn, node);
        pub_ack_forget(c);
        if (c->store_wait && s->store->forget)
            s->store->forget(s, c);
    }
    conn_reap(s);
}

/* io-collect-interval in seconds; -1 picks by store (see its help) */
static double io_collect_seconds(const struct config *cfg)
{
    long us = cfg->io_collect_interval;
    if (us < 0)
        us = cfg->redis[0] ? 0 : 250;
    return (double)us / 1e6;
}

static void on_before_sleep(struct ev_loop *loop, ev_prepare *w, int revents)
{
    (void)revents;
    struct server *s = w->data;
    /* the store writes first: nothing is acknowledged before it is kept */
    if (s->hub)
        worker_store_before_sleep(s);
    else
        s->store->before_sleep(s);
    /* then the answers, so that a publish is not answered after the
     * fan-outs read in the same turn (15,000 subscribers take a
     * millisecond to queue to), then those fan-outs */
    conn_flush_pending(s, sub_flush);
    if (s->hub)
        worker_run_inbox(s);
    else
        publish_run_later(s);
    conn_flush_all(s, sub_flush);
    reap(s);
    if (s->hub)
        worker_post_stats(s);
    if (s->shutting_down && list_empty(&s->conns))
        ev_break(loop, EVBREAK_ALL);
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    struct server *s = w->data;
    double now = ev_now(loop);
    conn_tick(s, now);
    chan_sweep(&s->chans, now, SERVER_SWEEP_BUCKETS);
    if (s == s->home) {
        worker_store_lock(s);
        s->store->tick(s, now);
        worker_store_unlock(s);
        worker_tick(s, now);
    }
}

/* ---- the other workers: started, stopped, told to shut down or reload ---- */

static void run_shutdown(struct server *s, struct xq_item *it)
{
    if (s)
        server_shutdown(s);
    free(it);
}

static void shutdown_workers(struct server *home)
{
    struct hub *h = home->hub;
    if (!h)
        return;
    for (unsigned i = 1; i < h->n; i++) {
        struct xq_item *it = xmalloc(sizeof *it);
        it->run = run_shutdown;
        xq_push(&h->w[i]->inbox, it, true);
    }
}

struct reload_item {
    struct xq_item q;
    struct config cfg;
    SSL_CTX *ctx;
};

static void run_reload(struct server *s, struct xq_item *it)
{
    struct reload_item *r = container_of(it, struct reload_item, q);
    if (s) {
        server_apply_config(s, &r->cfg, r->ctx);
    } else {
        config_free(&r->cfg);
        SSL_CTX_free(r->ctx);
    }
    free(r);
}

static void reload_workers(struct server *home, const struct config *cfg, SSL_CTX *ctx)
{
    struct hub *h = home->hub;
    if (!h)
        return;
    for (unsigned i = 1; i < h->n; i++) {
        struct reload_item *r = xcalloc(1, sizeof *r);
        r->q.run = run_reload;
        config_dup(&r->cfg, cfg);
        if (ctx && SSL_CTX_up_ref(ctx) == 1)
            r->ctx = ctx;
        xq_push(&h->w[i]->inbox, &r->q, true);
    }
}

static void *worker_main(void *arg)
{
    struct server *s = arg;
    ev_run(s->loop, 0);
    return NULL;
}

int server_start_workers(struct server *home, char *err, size_t errlen)
{
    struct hub *h = home->hub;
    if (!h)
        return 0;
    for (unsigned i = 1; i < h->n; i++) {
        struct server *s = xcalloc(1, sizeof *s);
        h->w[i] = s;
        /* a worker that cannot start ends the process at once (main
         * returns), so what was set up is left to the exit */
        if (server_init_worker(s, home, i, err, errlen) != 0)
            return -1;
        worker_inbox_init(s);
    }
    /* signals go to home's loop: the other threads never take them */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    for (unsigned i = 1; i < h->n; i++) {
        int rc = pthread_create(&h->w[i]->thread, NULL, worker_main, h->w[i]);
        if (rc != 0) {
            pthread_sigmask(SIG_SETMASK, &old, NULL);
            snprintf(err, errlen, "workers: cannot start thread %u: %s", i, strerror(rc));
            return -1;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    log_info("%u workers", h->n);
    return 0;
}

void server_stop_workers(struct server *home)
{
    struct hub *h = home->hub;
    if (!h)
        return;
    for (unsigned i = 1; i < h->n; i++)
        if (h->w[i])
            pthread_join(h->w[i]->thread, NULL);
    /* every thread has ended: what they owned is freed from here */
    for (unsigned i = 1; i < h->n; i++) {
        struct server *s = h->w[i];
        if (!s)
            continue;
        server_deinit(s);
        ev_loop_destroy(s->loop);
        free(s);
        h->w[i] = NULL;
    }
}

/* The bound on a stop. After SIGTERM the loops end within shutdown-timeout;
 * what follows (joining the workers, freeing, closing the store, the
 * sanitizer build's leak check at exit) has no timeout of its own, and one
 * thing stuck there kept the process alive for good while SIGTERM was
 * blocked (runsv's restart then never came). So the process ends this long
 * after the timeout whatever is stuck. Nothing acknowledged is lost: the
 * journal has every acknowledged record written before its answer; the
 * handler only syncs it as journal_close would. */
#define SHUTDOWN_GRACE 5
#define GRACE_TEXT(n) #n " s"
#define GRACE_STR(n) GRACE_TEXT(n)

static struct journal *volatile exit_journal; /* NULL once the store closes */

static void on_exit_deadline(int sig)
{
    (void)sig;
    static const char msg[] = "pullboxd: error: shutdown: still running " //
        GRACE_STR(SHUTDOWN_GRACE) " past shutdown-timeout: exiting now\n";
    ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)w;
    struct journal *j = exit_journal;
    if (j && j->fd >= 0)
        fdatasync(j->fd);
    _exit(1);
}

static void arm_exit_deadline(struct server *s)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_exit_deadline;
    sigaction(SIGALRM, &sa, NULL);
    exit_journal = s->journal;
    /* armed until the process is gone (also through the exit handlers);
     * the workers block every signal, so it runs on this thread */
    alarm((unsigned)s->cfg.shutdown_timeout + SHUTDOWN_GRACE);
}

static void on_shutdown_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)w;
    (void)revents;
    log_info("shutdown timeout reached; exiting");
    ev_break(loop, EVBREAK_ALL);
}

void server_shutdown(struct server *s)
{
    if (s->shutting_down)
        return;
    s->shutting_down = true;
    if (s == s->home)
        arm_exit_deadline(s);
    if (s->hub && s == s->home)
        shutdown_workers(s);
    if (s->hub)
        log_info("worker %u shutting down: closing %u connections", s->worker, s->m.n_conns);
    else
        log_info("shutting down: closing %u connections", s->m.n_conns);
    for (size_t i = 0; i < s->n_listeners; i++) {
        ev_io_stop(s->loop, &s->listeners[i].w);
        close(s->listeners[i].fd);
        s->listeners[i].fd = -1;
    }
    struct list_node *pos, *tmp;
    list_for_each_safe(pos, tmp, &s->conns)
    {
        struct conn *c = container_of(pos, struct conn, node);
        if (c->state == CONN_SUB) {
            /* 1001: the client reconnects (with its mid) to the next server */
            c->tp->end(c, 1001, "server shutdown");
        } else if (c->out.bytes || (c->flags & CONN_F_PENDING)) {
            conn_close_after_write(c);
        } else {
            conn_close(c, "shutdown");
        }
    }
    ev_timer_init(&s->shutdown_timer, on_shutdown_timer, (double)s->cfg.shutdown_timeout, 0);
    ev_timer_start(s->loop, &s->shutdown_timer);
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)loop;
    (void)revents;
    struct server *s = w->data;
    if (w->signum == SIGHUP) {
        struct config cfg;
        char err[512];
        if (config_load(s->config_path, &cfg, err, sizeof err) != 0) {
            log_err("reload failed, keeping the running config: %s", err);
            return;
        }
        server_reload(s, &cfg);
        return;
    }
    server_shutdown(s);
}

static void warn_restart_only(const char *key)
{
    log_warn("reload: %s is read at start only: restart pullboxd to change it", key);
}

void server_reload(struct server *s, struct config *cfg)
{
    /* from the table: listen addresses, workers, the store, ... stay as started */
    config_keep_restart_only(cfg, &s->cfg, warn_restart_only);
    SSL_CTX *ctx = NULL;
    if (s->tls_ctx) {
        char err[512];
        ctx = tls_ctx_new(cfg, err, sizeof err);
        if (!ctx) {
            log_err("reload failed, keeping the running config and certificate: %s", err);
            config_free(cfg);
            return;
        }
        log_info("TLS certificate reloaded from %s", cfg->tls_certificate);
    }
    /* every worker gets its own copy and a reference to the new context */
    reload_workers(s, cfg, ctx);
    server_apply_config(s, cfg, ctx);
    log_info("configuration reloaded (%zu signature key%s)", s->keys.n_keys,
             s->keys.n_keys > 1 ? "s" : "");
}

void server_apply_config(struct server *s, struct config *cfg, SSL_CTX *ctx)
{
    if (ctx) {
        /* open connections keep the context they started with (OpenSSL
         * counts references); new ones get the new certificate */
        SSL_CTX_free(s->tls_ctx);
        s->tls_ctx = ctx;
    }
    server_keyring_free(&s->keys);
    server_keyring_load(&s->keys, cfg);
    config_free(&s->cfg);
    s->cfg = *cfg;
    s->chans.history_length = (unsigned)s->cfg.history_length;
    s->chans.message_ttl = (uint32_t)s->cfg.message_ttl;
    s->chans.online_grace = (double)s->cfg.online_grace;
    chan_registry_limit(&s->chans, chan_history_budget(s->cfg.history_memory),
                        (unsigned)s->cfg.client_history_length);
    s->out_budget = memory_budget(s->cfg.max_output_memory);
    ev_set_io_collect_interval(s->loop, io_collect_seconds(&s->cfg));
    if (s == s->home)
        log_level = (enum log_level)s->cfg.log_level;
}

/* Starts what every worker runs: its listeners, the before-sleep hook and
 * the tick; home also takes the signals. */
static void start_watchers(struct server *s)
{
    for (size_t i = 0; i < s->n_listeners; i++) {
        struct listener *l = &s->listeners[i];
        ev_io_init(&l->w, on_accept, l->fd, EV_READ);
        l->w.data = l;
        ev_io_start(s->loop, &l->w);
        if (s == s->home)
            log_info("listening on %s (%s%s)", l->addr,
                     l->role == ROLE_SUBSCRIBE ? "subscribe" : "publish", l->tls ? ", TLS" : "");
    }
    ev_set_io_collect_interval(s->loop, io_collect_seconds(&s->cfg));
    ev_prepare_init(&s->before_sleep, on_before_sleep);
    s->before_sleep.data = s;
    ev_prepare_start(s->loop, &s->before_sleep);
    ev_timer_init(&s->tick, on_tick, SERVER_TICK, SERVER_TICK);
    s->tick.data = s;
    ev_timer_start(s->loop, &s->tick);
    if (s != s->home)
        return;
    ev_signal_init(&s->sigterm, on_signal, SIGTERM);
    ev_signal_init(&s->sigint, on_signal, SIGINT);
    ev_signal_init(&s->sighup, on_signal, SIGHUP);
    s->sigterm.data = s->sigint.data = s->sighup.data = s;
    ev_signal_start(s->loop, &s->sigterm);
    ev_signal_start(s->loop, &s->sigint);
    ev_signal_start(s->loop, &s->sighup);
}

/* What the store calls back into (store.h): the layers above it. */
static const struct store_hooks hooks = {
    .fanout = publish_fanout,
    .catchup_finish = sub_catchup_finish,
    .resume_all = sub_resume_all,
    .ack_hold = pub_ack_hold,
    .ack_done = pub_ack_done,
};

/* Lists, and what this server hands down to the layers below. */
static void init_lists(struct server *s)
{
    s->later_tail = &s->later;
    s->on_request = http_dispatch;
    s->request_waits = http_request_waits;
    s->fanout_behind = worker_fanout_behind;
    s->store_hooks = &hooks;
    list_init(&s->conns);
    list_init(&s->pending);
    conn_backlog_init(s);
    list_init(&s->closing);
    for (int i = 0; i < TL_COUNT; i++)
        list_init(&s->timers[i]);
    list_init(&s->stalled);
}

int server_init_worker(struct server *s, struct server *home, unsigned id, char *err,
                       size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->home = home;
    s->hub = home->hub;
    s->worker = id;
    init_lists(s);
    s->loop = ev_loop_new(EVFLAG_AUTO);
    if (!s->loop) {
        snprintf(err, errlen, "workers: cannot make an event loop");
        return -1;
    }
    config_dup(&s->cfg, &home->cfg);
    server_keyring_load(&s->keys, &s->cfg);
    chan_registry_init(&s->chans, (unsigned)s->cfg.history_length, (uint32_t)s->cfg.message_ttl,
                       (double)s->cfg.online_grace);
    chan_registry_limit(&s->chans, chan_history_budget(s->cfg.history_memory),
                        (unsigned)s->cfg.client_history_length);
    s->out_budget = memory_budget(s->cfg.max_output_memory);
    s->chans.presence = home->chans.presence;
    s->chans.worker = id;
    /* the journal's messages, shared by reference */
    chan_copy_histories(&s->chans, &home->chans);
    s->started = home->started;
    s->start_time = home->start_time;
    memcpy(s->unique_id, home->unique_id, sizeof s->unique_id);
    memcpy(s->node_name, home->node_name, sizeof s->node_name);
    s->store = home->store;
    if (home->tls_ctx && SSL_CTX_up_ref(home->tls_ctx) == 1)
        s->tls_ctx = home->tls_ctx;
    for (size_t i = 0; i < home->n_listeners; i++) {
        const struct listener *hl = &home->listeners[i];
        if (hl->role != ROLE_SUBSCRIBE)
            continue;
        /* the address home bound, with the port it got (port 0 in tests) */
        if (open_listeners(s, hl->addr, ROLE_SUBSCRIBE, hl->tls, err, errlen) != 0)
            return -1;
    }
    start_watchers(s);
    return 0;
}

int server_init(struct server *s, struct ev_loop *loop, struct config *cfg, char *err,
                size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->loop = loop;
    s->cfg = *cfg;
    memset(cfg, 0, sizeof *cfg);
    log_level = (enum log_level)s->cfg.log_level;
    server_keyring_load(&s->keys, &s->cfg);
    chan_registry_init(&s->chans, (unsigned)s->cfg.history_length, (uint32_t)s->cfg.message_ttl,
                       (double)s->cfg.online_grace);
    chan_registry_limit(&s->chans, chan_history_budget(s->cfg.history_memory),
                        (unsigned)s->cfg.client_history_length);
    s->out_budget = memory_budget(s->cfg.max_output_memory);
    init_lists(s);
    s->home = s;
    s->addrs = addr_table_new();
    s->reported_seen = lastseen_new((size_t)s->cfg.last_seen_max_users);
    unsigned workers = worker_count(&s->cfg);
    if (workers > 1)
        worker_hub_new(s, workers);
    s->started = ev_now(loop);
    s->start_time = (uint32_t)ev_now(loop);
    uint8_t rnd[8];
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        memset(rnd, 0, sizeof rnd);
    hex_encode(rnd, sizeof rnd, s->unique_id);

    if (s->cfg.node_name[0])
        snprintf(s->node_name, sizeof s->node_name, "%s", s->cfg.node_name);
    else if (gethostname(s->node_name, sizeof s->node_name - 1) != 0)
        snprintf(s->node_name, sizeof s->node_name, "%s", "pullbox");
    s->store = s->cfg.redis[0]          ? &store_redis_ops
               : s->cfg.journal_path[0] ? &store_journal_ops
                                        : &store_mem_ops;
    if (s->store->open(s, err, errlen) != 0) {
        server_deinit(s);
        return -1;
    }
    if (tls_wanted(&s->cfg) && !(s->tls_ctx = tls_ctx_new(&s->cfg, err, errlen))) {
        server_deinit(s);
        return -1;
    }
    if (open_listeners(s, s->cfg.listen_subscribe, ROLE_SUBSCRIBE, false, err, errlen) != 0 ||
        open_listeners(s, s->cfg.listen_publish, ROLE_PUBLISH, false, err, errlen) != 0 ||
        open_listeners(s, s->cfg.listen_subscribe_tls, ROLE_SUBSCRIBE, true, err, errlen) != 0 ||
        open_listeners(s, s->cfg.listen_publish_tls, ROLE_PUBLISH, true, err, errlen) != 0) {
        server_deinit(s);
        return -1;
    }
    start_watchers(s);
    return 0;
}

void server_deinit(struct server *s)
{
    struct list_node *pos, *tmp;
    list_for_each_safe(pos, tmp, &s->conns)
    {
        struct conn *c = container_of(pos, struct conn, node);
        conn_close(c, "exit");
    }
    if (s->conns.next)
        reap(s);
    for (size_t i = 0; i < s->n_listeners; i++) {
        ev_io_stop(s->loop, &s->listeners[i].w);
        if (s->listeners[i].fd >= 0)
            close(s->listeners[i].fd);
        free(s->listeners[i].addr);
    }
    free(s->listeners);
    s->listeners = NULL;
    s->n_listeners = 0;
    ev_prepare_stop(s->loop, &s->before_sleep);
    ev_idle_stop(s->loop, &s->backlog_idle);
    ev_timer_stop(s->loop, &s->park_timer);
    while (s->later) {
        struct publish_later *l = s->later;
        s->later = l->next;
        msg_unref(l->m);
        free(l->ids);
        free(l);
    }
    s->later_tail = &s->later;
    free(s->parked);
    s->parked = NULL;
    s->n_parked = s->cap_parked = 0;
    ev_timer_stop(s->loop, &s->tick);
    ev_timer_stop(s->loop, &s->shutdown_timer);
    ev_signal_stop(s->loop, &s->sigterm);
    ev_signal_stop(s->loop, &s->sigint);
    ev_signal_stop(s->loop, &s->sighup);
    if (s->hub)
        xq_deinit(&s->inbox); /* every other thread has stopped: nobody pushes */
    if (s == s->home)
        exit_journal = NULL;
    if (s->store && s == s->home)
        s->store->close(s);
    chan_registry_deinit(&s->chans);
    lastseen_free(s->reported_seen);
    s->reported_seen = NULL;
    SSL_CTX_free(s->tls_ctx);
    s->tls_ctx = NULL;
    server_keyring_free(&s->keys);
    config_free(&s->cfg);
    if (s == s->home) {
        worker_hub_free(s);
        /* last: every worker's connections have released their counts */
        addr_table_free(s->addrs);
        s->addrs = NULL;
    }
}
