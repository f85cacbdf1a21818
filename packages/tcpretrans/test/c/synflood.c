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

#include "../../../../test/support/c/loopback.h" /* port_of(), loopback_listen() */

int main(int argc, char **argv)
{
	int v6 = argc > 1 && atoi(argv[1]) == 6;
	struct sockaddr_storage ss;
	socklen_t len;

	int lfd = loopback_listen(v6, 0, 0, &ss, &len);
	int port = port_of(lfd, 0);
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
	printf("client %d\n", port_of(b, 0));
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
