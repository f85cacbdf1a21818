// Direct I/O of a known count, for the biolatency tests.
//
//   dio FILE prep BLOCKS     create FILE with BLOCKS 4 KiB blocks, fsync'd
//   dio FILE read N          N O_DIRECT 4 KiB reads at pseudo-random blocks
//   dio FILE write N         N O_DIRECT 4 KiB overwrites, then fsync
//   dio FILE loop MS         O_DIRECT reads and writes (one write per 8 reads) for MS milliseconds
//
// O_DIRECT bypasses the page cache, and each call waits for its I/O, so
// every read or write is exactly one block request. Prints the number of
// I/Os done.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BS 4096

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: dio FILE prep|read|write|loop N\n");
		return 2;
	}
	const char *path = argv[1], *mode = argv[2];
	long n = atol(argv[3]);
	void *buf;
	if (posix_memalign(&buf, BS, BS))
		return 1;
	memset(buf, 0x5a, BS);

	if (!strcmp(mode, "prep")) {
		int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
		if (fd < 0) { perror("open"); return 1; }
		for (long i = 0; i < n; i++)
			if (write(fd, buf, BS) != BS) { perror("write"); return 1; }
		if (fsync(fd)) { perror("fsync"); return 1; }
		close(fd);
		printf("%ld\n", n);
		return 0;
	}

	int fd = open(path, O_RDWR | O_DIRECT);
	if (fd < 0) { perror("open"); return 1; }
	off_t blocks = lseek(fd, 0, SEEK_END) / BS;
	if (blocks <= 0) { fprintf(stderr, "empty file\n"); return 1; }
	unsigned long x = 88172645463325252UL ^ (unsigned long)getpid();
	long done = 0;
	double end = !strcmp(mode, "loop") ? now_ms() + n : 0;
	for (;;) {
		if (end) {
			if (now_ms() >= end)
				break;
		} else if (done >= n) {
			break;
		}
		x ^= x << 13; x ^= x >> 7; x ^= x << 17; /* xorshift: a random block */
		off_t off = (off_t)(x % blocks) * BS;
		int writing = !strcmp(mode, "write") || (end && done % 8 == 7);
		ssize_t r = writing ? pwrite(fd, buf, BS, off) : pread(fd, buf, BS, off);
		if (r != BS) { perror(writing ? "pwrite" : "pread"); return 1; }
		done++;
	}
	if ((!strcmp(mode, "write") || end) && fsync(fd)) { perror("fsync"); return 1; }
	close(fd);
	printf("%ld\n", done);
	return 0;
}
