/* Unit tests for server/src/buf.c: growth keeps the bytes, reserve returns
 * the write position, consume shifts what is left, printf grows for long
 * output, steal hands the storage over and leaves the buf reusable. */
#include "../../../server/src/first.h"

#include "../../../server/src/buf.c"
#include "../../../server/src/util.c"

#include "tap.h"

#include <stdlib.h>
#include <string.h>

static void test_append_and_grow(void)
{
    struct buf b;
    buf_init(&b);
    ok(b.len == 0 && b.data == NULL, "a new buf holds nothing and has no storage");
    bool same = true;
    for (int i = 0; i < 10000; i++) {
        buf_append_byte(&b, (uint8_t)(i * 7));
        same = same && b.len == (size_t)i + 1 && b.cap >= b.len;
    }
    bool kept = true;
    for (int i = 0; i < 10000; i++)
        kept = kept && b.data[i] == (uint8_t)(i * 7);
    ok(same && kept, "10000 appends one byte at a time: lengths right, every byte kept across growth");
    uint8_t *w = buf_reserve(&b, 5000);
    ok(w == b.data + b.len && b.cap >= b.len + 5000, "reserve returns the write position with room");
    memcpy(w, "abc", 3);
    b.len += 3;
    ok(memcmp(b.data + 10000, "abc", 3) == 0, "bytes written at the reserved position are kept");
    buf_deinit(&b);
    ok(b.data == NULL && b.len == 0 && b.cap == 0, "deinit leaves an empty, reusable buf");
    buf_append_str(&b, "again");
    ok(b.len == 5 && memcmp(b.data, "again", 5) == 0, "and it is reusable");
    buf_deinit(&b);
}

static void test_consume(void)
{
    struct buf b;
    buf_init(&b);
    buf_append_str(&b, "GET / HTTP/1.1\r\n\r\nGET /next");
    buf_consume(&b, 18);
    ok(b.len == 9 && memcmp(b.data, "GET /next", 9) == 0, "consume drops the front, keeps the rest");
    buf_consume(&b, 9);
    ok(b.len == 0, "consuming everything empties it");
    buf_deinit(&b);
}

static void test_printf(void)
{
    struct buf b;
    buf_init(&b);
    buf_printf(&b, "%d-%s", 42, "x");
    char big[3000];
    memset(big, 'y', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    buf_printf(&b, "[%s]", big);
    ok(b.len == 4 + 3001 && memcmp(b.data, "42-x[", 5) == 0 && b.data[b.len - 1] == ']',
       "printf appends, growing for output longer than the room left");
    size_t n;
    uint8_t *p = buf_steal(&b, &n);
    ok(p && n == 3005 && b.data == NULL && b.len == 0, "steal hands the bytes over and empties the buf");
    free(p);
    buf_deinit(&b);
}

int main(void)
{
    subtest("append and grow", test_append_and_grow);
    subtest("consume", test_consume);
    subtest("printf and steal", test_printf);
    return done_testing();
}
