// A real retransmit over loopback, for the tcpretrans tests: a listener whose
// accept queue is full drops the next SYN, and the client sends it again
// after its initial RTO (1 s).
//
//   synflood 4|6 [accept]
//
// Listens on the loopback address (any port) with listen(fd, 0) and never
// accepts; one blocking connect fills the queue (a backlog of 0 holds one
// connection); a second, non-blocking, connect's SYN is dropped. Prints
// "listening PORT" and "client LPORT" (the second client's local port), then
// waits until killed (the SYN goes again after 1 s, then again...).
//
// With "accept" (tcpconnlat's slow connect): accepts the first connection
// once the second client's SYN has been dropped, which makes room for it;
// its SYN retransmitted after 1 s then completes, in the retransmit timer's
// context, not this process's. Prints "connected" when it is, and exits.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void die(const char *what)
{
	fprintf(stderr, "synflood: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int port_of(int fd, int v6)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		die("getsockname");
	return ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
}

int main(int argc, char **argv)
{
	int v6 = argc > 1 && atoi(argv[1]) == 6;
	struct sockaddr_storage ss = {};
	socklen_t len;

	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*a);
	}
	int lfd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&ss, len) || listen(lfd, 0))
		die("listen");
	int port = port_of(lfd, v6);
	if (v6)
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
	printf("listening %d\n", port);
	fflush(stdout);

	int a = socket(ss.ss_family, SOCK_STREAM, 0);
	if (a < 0 || connect(a, (struct sockaddr *)&ss, len))
		die("connect (first)");
	int b = socket(ss.ss_family, SOCK_STREAM, 0);
	if (b < 0 || fcntl(b, F_SETFL, O_NONBLOCK))
		die("socket");
	if (connect(b, (struct sockaddr *)&ss, len) == 0 || errno != EINPROGRESS)
		die("connect (second): expected EINPROGRESS");
	printf("client %d\n", port_of(b, v6));
	fflush(stdout);
	if (argc > 2 && !strcmp(argv[2], "accept")) {
		struct pollfd p = { .fd = b, .events = POLLOUT };
		int err = 0;
		socklen_t elen = sizeof(err);

		if (accept(lfd, NULL, NULL) < 0)
			die("accept");
		if (poll(&p, 1, 30000) != 1)
			die("poll: not connected in 30 s");
		if (getsockopt(b, SOL_SOCKET, SO_ERROR, &err, &elen) || err)
			die("connect (second)");
		printf("connected\n");
		return 0;
	}
	for (;;)
		pause();
}
