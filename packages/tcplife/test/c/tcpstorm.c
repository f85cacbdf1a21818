// A storm of short TCP sessions over loopback, for the tcplife burst test and
// benchmark (bench/tcplife.mjs).
//
//   tcpstorm N BYTES [4|6]
//
// Listens on the loopback address (any port) and forks a server that accepts
// N connections one after another; the parent connects N times. Per session:
// the client sends BYTES bytes, the server reads them, replies BYTES bytes and
// closes first (so TIME_WAIT stays on the server side and the client's
// ephemeral ports are not used up); the client reads the reply up to EOF and
// closes. Prints "port P server SPID client CPID" before the first connection
// and "done N SECONDS" at the end.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char buf[65536];

static void die(const char *what)
{
	fprintf(stderr, "tcpstorm: %s: %s\n", what, strerror(errno));
	exit(1);
}

#include "../../../../test/support/c/loopback.h" /* port_of(), loopback_listen() */

static void io(int fd, long n, int writing)
{
	while (n > 0) {
		ssize_t r = writing ? write(fd, buf, n < (long)sizeof(buf) ? n : (long)sizeof(buf))
				    : read(fd, buf, n < (long)sizeof(buf) ? n : (long)sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			die(writing ? "write" : "read");
		n -= r;
	}
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: tcpstorm N BYTES [4|6]\n");
		return 2;
	}
	long n = atol(argv[1]), bytes = atol(argv[2]);
	int v6 = argc > 3 && atoi(argv[3]) == 6;
	struct sockaddr_storage ss;
	socklen_t len;

	int lfd = loopback_listen(v6, 4096, 1, &ss, &len);
	int port = port_of(lfd, 0);

	pid_t server = fork();
	if (server < 0)
		die("fork");
	if (server == 0) {
		for (long i = 0; i < n; i++) {
			int c = accept(lfd, NULL, NULL);
			if (c < 0)
				die("accept");
			io(c, bytes, 0);
			io(c, bytes, 1);
			close(c);
		}
		_exit(0);
	}
	close(lfd);
	printf("port %d server %d client %d\n", port, (int)server, (int)getpid());
	fflush(stdout);

	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < n; i++) {
		int fd = socket(ss.ss_family, SOCK_STREAM, 0);
		if (fd < 0)
			die("socket");
		if (connect(fd, (struct sockaddr *)&ss, len))
			die("connect");
		io(fd, bytes, 1);
		for (;;) { /* the reply, then EOF */
			ssize_t r = read(fd, buf, sizeof(buf));
			if (r == 0)
				break;
			if (r < 0 && errno != EINTR)
				die("read");
		}
		close(fd);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	int status;
	waitpid(server, &status, 0);
	printf("done %ld %.6f\n", n, (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
