// The offcputime tests' workload. A second thread, "sleeper-bg", naps in
// offcputime_test_background() (20 ms at a time) from the start. The main
// thread prints "ready TID" (TID: the second thread's), then for each line
// on stdin runs one command and answers "done":
//   sleep N MS   offcputime_test_sleep(): N nanosleeps of MS milliseconds
//   spin MS      burns CPU for MS milliseconds (no blocking)
// It exits when stdin closes. Built with frame pointers (-O0
// -fno-omit-frame-pointer) so its user stacks can be walked.
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

// A frame between the named functions and the C library: libc's
// clock_nanosleep keeps no frame pointer, so the frame-pointer walk skips
// the function that called it. This one is skipped instead.
__attribute__((noinline)) static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0)
		;
}

__attribute__((noinline)) void offcputime_test_sleep(int n, long ms)
{
	for (int i = 0; i < n; i++)
		sleep_ms(ms);
}

__attribute__((noinline)) void offcputime_test_spin(long ms)
{
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	do
		clock_gettime(CLOCK_MONOTONIC, &b);
	while ((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < ms);
}

static volatile long bg_tid;

__attribute__((noinline)) void offcputime_test_background(void)
{
	for (;;)
		sleep_ms(20);
}

static void *background(void *arg)
{
	(void)arg;
	bg_tid = syscall(SYS_gettid);
	offcputime_test_background();
	return NULL;
}

int main(void)
{
	char line[128];
	pthread_t t;
	setvbuf(stdout, NULL, _IONBF, 0);
	if (pthread_create(&t, NULL, background, NULL) != 0)
		return 1;
	pthread_setname_np(t, "sleeper-bg");
	while (!bg_tid)
		usleep(1000);
	printf("ready %ld\n", bg_tid);
	while (fgets(line, sizeof(line), stdin)) {
		int n;
		long ms;
		if (sscanf(line, "sleep %d %ld", &n, &ms) == 2)
			offcputime_test_sleep(n, ms);
		else if (sscanf(line, "spin %ld", &ms) == 1)
			offcputime_test_spin(ms);
		else {
			printf("what? %s", line);
			continue;
		}
		puts("done");
	}
	return 0;
}
