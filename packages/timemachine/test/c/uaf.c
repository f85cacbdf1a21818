// The demo: a server that handles requests, each in a 256 KiB buffer. Each
// request's buffer is kept until the next one is ready, then freed; on
// request CRASH_AT (default 42) it writes into the previous request's buffer
// after freeing it. The buffers are above the mmap threshold, so free()
// unmaps them and the write faults at an address inside the freed block.
// Prints "uaf <address>" just before the write. argv[1] = 0: never crashes.
// argv[2] = "wait": prints "waiting" and starts on SIGUSR1 (to be recorded by PID).
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOCK (256 * 1024)

static int out;
static volatile sig_atomic_t go;

static void on_usr1(int sig)
{
	go = 1;
}

__attribute__((noinline)) char *handle_request(int id)
{
	char *buf = malloc(BLOCK);
	int n = snprintf(buf, BLOCK, "request %d\n", id);
	write(out, buf, n);
	return buf;
}

__attribute__((noinline)) void release_request(char *buf)
{
	free(buf);
}

__attribute__((noinline)) void log_request(char *buf)
{
	buf[100] = 'x'; /* the bug: buf may have been released */
}

int main(int argc, char **argv)
{
	int crash_at = argc > 1 ? atoi(argv[1]) : 42;
	char *prev = NULL;

	if (argc > 2 && !strcmp(argv[2], "wait")) {
		signal(SIGUSR1, on_usr1);
		printf("waiting\n");
		fflush(stdout);
		while (!go)
			pause();
	}
	mallopt(M_MMAP_THRESHOLD, 64 * 1024); /* fixed: no dynamic threshold */
	out = open("/dev/null", O_WRONLY);
	for (int id = 1; id <= 60; id++) {
		char *cur = handle_request(id);
		if (prev)
			release_request(prev);
		if (id == crash_at) {
			printf("uaf %p\n", prev + 100);
			fflush(stdout);
			log_request(prev);
		}
		prev = cur;
		usleep(3000);
	}
	release_request(prev);
	printf("done\n");
	return 0;
}
