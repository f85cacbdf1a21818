// loopback.h: loopback TCP sockets for the test workloads (tcplife's tcpsess,
// tcpstorm and prefork, tcpretrans' synflood). Define
//   static void die(const char *what);
// (each workload names itself in its errors) before including it, as
//   #include "../../../../test/support/c/loopback.h"
// (test/support's compileC adds the source's own folder to the include path,
// so this resolves from its build folder too).
#ifndef EBPF_TEST_LOOPBACK_H
#define EBPF_TEST_LOOPBACK_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

/* The port of fd's own end (peer 0) or of its peer's (peer 1). */
static __attribute__((unused)) int port_of(int fd, int peer)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if ((peer ? getpeername : getsockname)(fd, (struct sockaddr *)&ss, &len))
		die("getsockname");
	return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					     : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

/*
 * A listener on the IPv4 (v6 0) or IPv6 loopback address, on a port the
 * kernel picks, with SO_REUSEADDR when `reuse`. *ss and *len are its address,
 * port included: what a client connect()s to.
 */
static __attribute__((unused)) int loopback_listen(int v6, int backlog, int reuse, struct sockaddr_storage *ss, socklen_t *len)
{
	int one = 1, lfd;

	memset(ss, 0, sizeof(*ss));
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		*len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*len = sizeof(*a);
	}
	lfd = socket(ss->ss_family, SOCK_STREAM, 0);
	if (lfd < 0)
		die("socket");
	if (reuse)
		setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)ss, *len) || listen(lfd, backlog))
		die("bind/listen");
	if (getsockname(lfd, (struct sockaddr *)ss, len))
		die("getsockname");
	return lfd;
}

#endif
