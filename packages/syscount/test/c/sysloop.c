// A workload making known system calls, one command per stdin line:
//   getppid N   N getppid() calls
//   enoent N    N openat() calls that fail with ENOENT
//   ebadf N     N close(-1) calls that fail with EBADF
//   sleep N MS  N nanosleep()s of MS milliseconds
// It answers "done" after each; "ready" at start. Raw syscall() so that libc
// caches nothing and makes no other call in between.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(void)
{
	char cmd[32];
	long n, ms = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	puts("ready");
	while (scanf("%31s %ld", cmd, &n) == 2) {
		if (!strcmp(cmd, "sleep") && scanf("%ld", &ms) != 1)
			return 2;
		for (long i = 0; i < n; i++) {
			if (!strcmp(cmd, "getppid")) {
				syscall(SYS_getppid);
			} else if (!strcmp(cmd, "enoent")) {
				syscall(SYS_openat, AT_FDCWD, "/nonexistent/syscount-test", O_RDONLY);
			} else if (!strcmp(cmd, "ebadf")) {
				syscall(SYS_close, -1);
			} else if (!strcmp(cmd, "sleep")) {
				struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
				syscall(SYS_nanosleep, &ts, NULL);
			}
		}
		puts("done");
	}
	return 0;
}
