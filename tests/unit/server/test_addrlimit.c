/* Unit tests for server/src/addrlimit.c: which peers share a count (IPv4 by
 * address, IPv4-mapped IPv6 as IPv4, IPv6 by /64), the limit, release, and
 * a table that grows past its first buckets and shrinks back, also with
 * several threads acquiring and releasing at once. */
#include "../../../server/src/first.h"

#include "../../../server/src/addrlimit.c"
#include "../../../server/src/util.c"

#include "tap.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <string.h>

static struct addr_key key4(const char *ip)
{
    struct sockaddr_in s4;
    memset(&s4, 0, sizeof s4);
    s4.sin_family = AF_INET;
    inet_pton(AF_INET, ip, &s4.sin_addr);
    struct addr_key k;
    addr_key_of((struct sockaddr *)&s4, &k);
    return k;
}

static struct addr_key key6(const char *ip)
{
    struct sockaddr_in6 s6;
    memset(&s6, 0, sizeof s6);
    s6.sin6_family = AF_INET6;
    inet_pton(AF_INET6, ip, &s6.sin6_addr);
    struct addr_key k;
    addr_key_of((struct sockaddr *)&s6, &k);
    return k;
}

static bool same(struct addr_key a, struct addr_key b)
{
    return a.a == b.a && a.b == b.b;
}

static void test_keys(void)
{
    ok(!same(key4("10.0.0.1"), key4("10.0.0.2")), "IPv4 counts per address");
    ok(same(key4("10.0.0.1"), key6("::ffff:10.0.0.1")), "IPv4-mapped IPv6 counts as its IPv4");
    ok(same(key6("2001:db8:1:2::1"), key6("2001:db8:1:2:ffff:ffff:ffff:ffff")),
       "two addresses of one IPv6 /64 share a count");
    ok(!same(key6("2001:db8:1:2::1"), key6("2001:db8:1:3::1")), "another /64 does not");
    ok(!same(key6("::"), key4("0.0.0.0")), "no IPv6 prefix collides with an IPv4 address");
    ok(!same(key6("::1"), key4("0.0.0.1")), "not even ::1 with 0.0.0.1");
    struct sockaddr su = {.sa_family = AF_UNIX};
    struct addr_key k;
    ok(!addr_key_of(&su, &k), "other families are not counted");
    char out[64];
    struct addr_key a = key6("2001:db8:1:2::99");
    addr_key_format(&a, out);
    note("%s", out);
    ok(strcmp(out, "2001:db8:1:2::/64") == 0, "an IPv6 key prints as its /64");
    a = key4("192.0.2.7");
    addr_key_format(&a, out);
    ok(strcmp(out, "192.0.2.7") == 0, "an IPv4 key prints as the address");
}

static void test_limit(void)
{
    struct addr_table *t = addr_table_new();
    struct addr_key a = key4("192.0.2.1"), b = key6("2001:db8::1");
    bool all = true;
    for (int i = 0; i < 3; i++)
        all = all && addr_table_acquire(t, &a, 3);
    ok(all && addr_table_count(t, &a) == 3, "3 of 3 are counted");
    ok(!addr_table_acquire(t, &a, 3) && addr_table_count(t, &a) == 3,
       "the 4th is refused and not counted");
    ok(addr_table_acquire(t, &b, 3), "another address has its own count");
    addr_table_release(t, &a);
    ok(addr_table_count(t, &a) == 2 && addr_table_acquire(t, &a, 3), "a release frees a place");
    ok(!addr_table_acquire(t, &a, 2), "a lowered limit (a reload) holds for new connections");
    ok(!addr_table_acquire(t, &(struct addr_key){0, 5}, 0), "limit 0 counts nothing");
    for (int i = 0; i < 3; i++)
        addr_table_release(t, &a);
    addr_table_release(t, &b);
    ok(t->n == 0, "entries go once their count is 0");
    addr_table_free(t);
}

static void test_grow(void)
{
    struct addr_table *t = addr_table_new();
    bool all = true;
    for (uint32_t i = 0; i < 20000; i++) {
        struct addr_key k = {0, (uint64_t)1 << 32 | i};
        all = all && addr_table_acquire(t, &k, 1) && !addr_table_acquire(t, &k, 1);
    }
    ok(all && t->n == 20000, "20000 addresses, one each");
    ok(t->n_buckets >= 16384, "the table grew");
    all = true;
    for (uint32_t i = 0; i < 20000; i++) {
        struct addr_key k = {0, (uint64_t)1 << 32 | i};
        all = all && addr_table_count(t, &k) == 1;
        addr_table_release(t, &k);
    }
    ok(all && t->n == 0, "each found after growing, and released");
    addr_table_free(t);
}

struct worker_arg {
    struct addr_table *t;
    int got;
};

static void *hammer(void *p)
{
    struct worker_arg *w = p;
    struct addr_key k = {0, (uint64_t)1 << 32 | 42};
    for (int i = 0; i < 20000; i++) {
        if (addr_table_acquire(w->t, &k, 100)) {
            w->got++;
            addr_table_release(w->t, &k);
        }
    }
    return NULL;
}

static void test_threads(void)
{
    struct addr_table *t = addr_table_new();
    pthread_t th[4];
    struct worker_arg w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker_arg){t, 0};
        pthread_create(&th[i], NULL, hammer, &w[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    struct addr_key k = {0, (uint64_t)1 << 32 | 42};
    ok(w[0].got + w[1].got + w[2].got + w[3].got == 80000 && addr_table_count(t, &k) == 0,
       "4 threads acquiring and releasing one address: every one counted and released");
    addr_table_free(t);
}

int main(void)
{
    subtest("keys", test_keys);
    subtest("limit", test_limit);
    subtest("growing", test_grow);
    subtest("threads", test_threads);
    return done_testing();
}
