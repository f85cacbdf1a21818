// A TCP session with known byte counts and timing, for the tcplife tests.
//
//   tcpsess server FAMILY ADDR PORT EXPECT REPLY CLOSE SLEEP_MS
//     listens on ADDR:PORT (PORT 0: any), prints "listening PORT" and waits for
//     one connection; reads EXPECT bytes, writes REPLY bytes, then
//       CLOSE = "second": reads until the peer closes, then closes (passive close)
//       CLOSE = "first":  sleeps SLEEP_MS, then closes (active close)
//     prints "server LPORT RPORT" (its side of the connection) and "done".
//   tcpsess client FAMILY ADDR PORT SEND EXPECT CLOSE SLEEP_MS
//     connects, writes SEND bytes, reads EXPECT bytes, then
//       CLOSE = "first":  sleeps SLEEP_MS, then closes (active close)
//       CLOSE = "second": reads until the peer closes, then closes
//       CLOSE = "reset":  sleeps SLEEP_MS, then aborts (SO_LINGER 0: an RST)
//     prints "client LPORT RPORT"; a refused connection prints "refused" (exit 3).
//   FAMILY is 4 or 6.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static char buf[65536];

static void die(const char *what)
{
	fprintf(stderr, "tcpsess: %s: %s\n", what, strerror(errno));
	exit(1);
}

#include "../../../../test/support/c/loopback.h" /* port_of() */

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static socklen_t make_addr(struct sockaddr_storage *ss, int family, const char *addr, int port)
{
	memset(ss, 0, sizeof(*ss));
	if (family == 4) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;
		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		if (inet_pton(AF_INET, addr, &a->sin_addr) != 1)
			die("bad address");
		return sizeof(*a);
	}
	struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
	a->sin6_family = AF_INET6;
	a->sin6_port = htons(port);
	if (inet_pton(AF_INET6, addr, &a->sin6_addr) != 1)
		die("bad address");
	return sizeof(*a);
}

static void read_exact(int fd, long n)
{
	while (n > 0) {
		ssize_t r = read(fd, buf, n < (long)sizeof(buf) ? n : (long)sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			die("read");
		n -= r;
	}
}

static void write_exact(int fd, long n)
{
	while (n > 0) {
		ssize_t w = write(fd, buf, n < (long)sizeof(buf) ? n : (long)sizeof(buf));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			die("write");
		n -= w;
	}
}

static void read_eof(int fd)
{
	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r == 0)
			return;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return; /* reset by the peer: the session is over too */
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, c;

	if (argc != 9) {
		fprintf(stderr, "usage: see the comment at the top of tcpsess.c\n");
		return 2;
	}
	int family = atoi(argv[2]);
	const char *addr = argv[3];
	int port = atoi(argv[4]);
	long a = atol(argv[5]), b = atol(argv[6]);
	const char *how = argv[7];
	long ms = atol(argv[8]);
	memset(buf, 'x', sizeof(buf));
	setvbuf(stdout, NULL, _IONBF, 0);

	len = make_addr(&ss, family, addr, port);
	fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket");

	if (!strcmp(argv[1], "server")) {
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (family == 6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 16))
			die("bind/listen");
		printf("listening %d\n", port_of(fd, 0));
		c = accept(fd, NULL, NULL);
		if (c < 0)
			die("accept");
		close(fd);
		read_exact(c, a);
		write_exact(c, b);
		printf("server %d %d\n", port_of(c, 0), port_of(c, 1));
		if (!strcmp(how, "first"))
			sleep_ms(ms);
		else
			read_eof(c);
		close(c);
		printf("done\n");
		return 0;
	}

	if (connect(fd, (struct sockaddr *)&ss, len)) {
		if (errno == ECONNREFUSED) {
			printf("refused\n");
			return 3;
		}
		die("connect");
	}
	printf("client %d %d\n", port_of(fd, 0), port_of(fd, 1));
	write_exact(fd, a);
	read_exact(fd, b);
	if (!strcmp(how, "second")) {
		read_eof(fd);
	} else {
		sleep_ms(ms);
		if (!strcmp(how, "reset")) {
			struct linger l = { 1, 0 };
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
		}
	}
	close(fd);
	return 0;
}
