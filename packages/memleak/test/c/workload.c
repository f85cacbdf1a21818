// The memleak tests' workload. `workload MODE LEAKS SIZE [TIDY]`:
//   prints "ready", waits for a line on stdin, then allocates:
//   basic  LEAKS blocks of SIZE bytes from memleak_test_leak(), never freed;
//          TIDY blocks of varied sizes from memleak_test_tidy(), all freed
//   every  one block from each allocator function, each from its own
//          function with its own size, and the same again freed
//   sizes  LEAKS blocks of SIZE bytes (memleak_test_small) and LEAKS of
//          SIZE * 50 (memleak_test_large)
//   threads LEAKS blocks of SIZE bytes from each of 4 threads
//   exec   LEAKS blocks of SIZE bytes, then exec()s argv[5..] (no "done")
// then prints "done" and exits when stdin closes.
// Built with frame pointers, so stacks reach main() (Debian's libc has none).
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline, noipa))

static volatile uintptr_t sink;
static void keep(void *p) { sink ^= (uintptr_t)p; }

NOINLINE void *memleak_test_leak(size_t n) { void *p = malloc(n); memset(p, 1, n); return p; }
NOINLINE void *memleak_test_tidy(size_t n) { void *p = malloc(n); memset(p, 2, n); return p; }
NOINLINE void *memleak_test_small(size_t n) { return malloc(n); }
NOINLINE void *memleak_test_large(size_t n) { return malloc(n); }

NOINLINE void *leak_malloc(void) { return malloc(1001); }
NOINLINE void *leak_calloc(void) { return calloc(17, 59); }               /* 1003 */
NOINLINE void *leak_realloc(void) { return realloc(malloc(10), 1005); }   /* the 10 bytes are freed */
NOINLINE void *leak_posix_memalign(void) { void *p = 0; return posix_memalign(&p, 64, 1007) ? 0 : p; }
NOINLINE void *leak_aligned_alloc(void) { return aligned_alloc(64, 1088); }
NOINLINE void *leak_memalign(void) { return memalign(64, 1009); }
NOINLINE void *leak_valloc(void) { return valloc(1011); }
NOINLINE void *leak_pvalloc(void) { return pvalloc(1013); }
NOINLINE void *leak_mmap(void) { return mmap(0, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0); }
NOINLINE void *leak_big_malloc(void) { return malloc(1 << 20); }          /* glibc mmap()s it: one block all the same */
NOINLINE void *leak_realloc_failed(void)
{
	void *p = malloc(1017);
	/* Fails (no such memory): p stays allocated, and must stay reported. */
	void *q = realloc(p, SIZE_MAX / 4);
	return q ? q : p;
}

static void every(void)
{
	keep(leak_malloc());
	keep(leak_calloc());
	keep(leak_realloc());
	keep(leak_posix_memalign());
	keep(leak_aligned_alloc());
	keep(leak_memalign());
	keep(leak_valloc());
	keep(leak_pvalloc());
	keep(leak_mmap());
	keep(leak_big_malloc());
	keep(leak_realloc_failed());
	/* and each freed again */
	free(leak_malloc());
	free(leak_calloc());
	free(leak_realloc());
	free(leak_posix_memalign());
	free(leak_aligned_alloc());
	free(leak_memalign());
	free(leak_valloc());
	free(leak_pvalloc());
	munmap(leak_mmap(), 3 * 4096);
	free(leak_big_malloc());
	free(leak_realloc_failed());
	free(realloc(realloc(malloc(5), 50), 0)); /* realloc(p, 0) frees */
	free(strdup("memleak"));
	free(NULL);
}

static int g_leaks;
static size_t g_size;

static void *thread_main(void *arg)
{
	(void)arg;
	for (int i = 0; i < g_leaks; i++) keep(memleak_test_leak(g_size));
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argv[1];
	int leaks = atoi(argv[2]);
	size_t size = strtoul(argv[3], 0, 10);
	int tidy = argc > 4 ? atoi(argv[4]) : 0;
	char line[64];

	setvbuf(stdout, NULL, _IONBF, 0); /* no stdio buffer: nothing else outstanding */
	fputs("ready\n", stdout);
	if (!fgets(line, sizeof line, stdin))
		return 1;
	if (!strcmp(mode, "basic")) {
		for (int i = 0; i < leaks; i++) keep(memleak_test_leak(size));
		for (int i = 0; i < tidy; i++) free(memleak_test_tidy(16 + (i % 64) * 16));
	} else if (!strcmp(mode, "every")) {
		every();
	} else if (!strcmp(mode, "sizes")) {
		for (int i = 0; i < leaks; i++) keep(memleak_test_small(size));
		for (int i = 0; i < leaks; i++) keep(memleak_test_large(size * 50));
	} else if (!strcmp(mode, "exec")) {
		for (int i = 0; i < leaks; i++) keep(memleak_test_leak(size));
		execv(argv[5], &argv[5]);
		return 127;
	} else if (!strcmp(mode, "threads")) {
		pthread_t t[4];
		g_leaks = leaks;
		g_size = size;
		for (int i = 0; i < 4; i++) pthread_create(&t[i], 0, thread_main, 0);
		for (int i = 0; i < 4; i++) pthread_join(t[i], 0);
	}
	fputs("done\n", stdout);
	while (fgets(line, sizeof line, stdin)) {
	}
	return 0;
}
