// A prefork server over loopback, for the TCP tools' attribution tests: the
// parent listens, forked workers accept (as Apache's prefork MPM, nginx or
// gunicorn do), and the parent is also the client.
//
//   prefork FAMILY WORKERS MODE
//     FAMILY  4 or 6
//     WORKERS each worker (comm "pf-worker") accepts one connection, prints
//             "accepted PID LPORT RPORT", writes one byte, reads until EOF
//             or reset, closes it and exits.
//             0: nobody accepts; each connection waits in the listener's
//             queue until the client resets it (one connection).
//     MODE    how the client ends each connection once the worker's byte
//             came: "close" (a FIN) or "reset" (SO_LINGER 0: an RST)
//
// The parent (comm "pf-master") prints "listening PORT PID", forks the
// workers, then connects once per worker (once with 0 workers), one after
// another, printing "client LPORT" for each; it waits for the workers and
// prints "done".
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what)
{
	fprintf(stderr, "prefork: %s: %s\n", what, strerror(errno));
	exit(1);
}

#include "../../../../test/support/c/loopback.h" /* port_of(), loopback_listen() */

/* One whole line per write(): the workers and the parent share the pipe. */
static void say(const char *fmt, int a, int b, int c)
{
	char line[128];
	int n = snprintf(line, sizeof(line), fmt, a, b, c);
	if (write(1, line, n) != n)
		die("write stdout");
}

static void worker(int lfd)
{
	char b = 'x';
	int c;

	prctl(PR_SET_NAME, "pf-worker");
	while ((c = accept(lfd, NULL, NULL)) < 0 && errno == EINTR)
		;
	if (c < 0)
		die("accept");
	close(lfd);
	say("accepted %d %d %d\n", getpid(), port_of(c, 0), port_of(c, 1));
	if (write(c, &b, 1) != 1)
		die("write");
	for (;;) {
		char buf[256];
		ssize_t r = read(c, buf, sizeof(buf));
		if (r > 0 || (r < 0 && errno == EINTR))
			continue;
		break; /* EOF, or reset by the client */
	}
	close(c);
	_exit(0);
}

/* Waits until the listener's accept queue holds `n` connections (TCP_INFO's
 * tcpi_unacked is the accept queue length for a listening socket). */
static void wait_queued(int lfd, unsigned n)
{
	for (int i = 0; i < 10000; i++) {
		struct tcp_info ti;
		socklen_t len = sizeof(ti);
		if (getsockopt(lfd, IPPROTO_TCP, TCP_INFO, &ti, &len))
			die("TCP_INFO");
		if (ti.tcpi_unacked >= n)
			return;
		usleep(1000);
	}
	errno = ETIMEDOUT;
	die("accept queue");
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: prefork FAMILY WORKERS close|reset\n");
		return 2;
	}
	int v6 = atoi(argv[1]) == 6;
	int workers = atoi(argv[2]);
	int reset = !strcmp(argv[3], "reset");
	struct sockaddr_storage ss;
	socklen_t len;

	prctl(PR_SET_NAME, "pf-master");
	int lfd = loopback_listen(v6, 16, 1, &ss, &len);
	say("listening %d %d\n", port_of(lfd, 0), getpid(), 0);

	for (int i = 0; i < workers; i++) {
		pid_t w = fork();
		if (w < 0)
			die("fork");
		if (w == 0)
			worker(lfd);
	}

	for (int i = 0; i < (workers ? workers : 1); i++) {
		int fd = socket(ss.ss_family, SOCK_STREAM, 0);
		char b;
		if (fd < 0)
			die("socket");
		if (connect(fd, (struct sockaddr *)&ss, len))
			die("connect");
		if (workers) {
			if (read(fd, &b, 1) != 1) /* the worker has accepted */
				die("read");
		} else {
			wait_queued(lfd, 1); /* the server side exists, unaccepted */
		}
		say("client %d\n", port_of(fd, 0), 0, 0);
		if (reset) {
			struct linger l = { 1, 0 };
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
		}
		close(fd);
	}
	int status, failed = 0;
	while (wait(&status) > 0)
		failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	say("done\n", 0, 0, 0);
	return failed;
}
