/* Socket helpers in the anet style: setup helpers return 0 / -1 with a
 * message in err; I/O helpers return >= 0 or -errno and never log. */
#ifndef PULLBOX_NET_H
#define PULLBOX_NET_H

#include "first.h"

#include <sys/socket.h>

#define NET_ERR_LEN 256

/* Binds and listens on "host:port", "[v6]:port" or "*:port" (all
 * addresses). reuseport: several sockets (one per worker) share the port
 * and the kernel spreads new connections over them. Returns the
 * non-blocking, close-on-exec fd or -1. */
int net_listen(const char *addr, int backlog, bool reuseport, char *err);
/* Accepts one connection (non-blocking, close-on-exec, TCP_NODELAY set).
 * Returns the fd or -errno (-EAGAIN when none is waiting). ss, when not
 * NULL, gets the peer's address; peer, its printable form. */
int net_accept(int lfd, struct sockaddr_storage *ss, char *peer, size_t peerlen);
/* The local port a socket is bound to, or -1. */
int net_local_port(int fd);

#endif
