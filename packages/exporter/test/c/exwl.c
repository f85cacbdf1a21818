// The exporter tests' workload; its file name is the marker comm the test
// picks. Every mode but "sig" exits with code 3.
//   exwl exit                      just exit
//   exwl open N                    N failed opens (ENOENT)
//   exwl connect N PORT TX         N TCP sessions to 127.0.0.1:PORT, each sending TX bytes
//                                  and reading to EOF; prints the bytes received
//   exwl sig N                     N ignored SIGUSR1 to itself, then dies of SIGTERM
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "exit";
	long n = argc > 2 ? atol(argv[2]) : 0;
	if (!strcmp(mode, "open")) {
		for (long i = 0; i < n; i++)
			if (open("/nonexistent-ebpf-exporter-test/x", O_RDONLY) >= 0)
				return 1;
	} else if (!strcmp(mode, "connect")) {
		int port = atoi(argv[3]);
		long tx = atol(argv[4]), rx = 0;
		static char buf[65536];
		memset(buf, 'x', sizeof(buf));
		for (long i = 0; i < n; i++) {
			int s = socket(AF_INET, SOCK_STREAM, 0);
			struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
			a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a))) { perror("connect"); return 1; }
			for (long left = tx; left > 0;) {
				ssize_t w = write(s, buf, left < (long)sizeof(buf) ? left : (long)sizeof(buf));
				if (w <= 0) { perror("write"); return 1; }
				left -= w;
			}
			shutdown(s, SHUT_WR);
			ssize_t r;
			while ((r = read(s, buf, sizeof(buf))) > 0)
				rx += r;
			close(s);
		}
		printf("%ld\n", rx);
	} else if (!strcmp(mode, "sig")) {
		signal(SIGUSR1, SIG_IGN);
		for (long i = 0; i < n; i++)
			kill(getpid(), SIGUSR1);
		raise(SIGTERM);
		return 1;
	}
	return 3;
}
