// Direct I/O whose every request is known, for the biosnoop tests.
//
//   biodio DEV WRITES READS    O_DIRECT writes, then reads, on a block device
//                              (the loop device a test made); one line per I/O:
//                              "W|R SECTOR BYTES", in the order they were done
//   biodio DEV seq N           N O_DIRECT 4 KiB reads from sector 0 on, each
//                              where the last one ended; "R SECTOR 4096" lines
//   biodio DEV aio N           N O_DIRECT 4 KiB reads submitted at once (one
//                              io_submit: the block layer makes all N requests
//                              before it issues the first), then reaped
//
// O_DIRECT bypasses the page cache and each pread/pwrite waits for its I/O,
// so every call is exactly one block request of the size asked (1 to 4
// pages, kept under the loop device's max_sectors), at the offset asked:
// sector = offset / 512. The I/O i of a run lands in its own 64 KiB slot,
// (i * 37) mod 256 of a 16 MiB device, 512 * (i % 3) bytes in: no two touch,
// no I/O starts where another ended (so -P calls every one but the first
// random), and the sectors are not all multiples of 8.
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PAGE 4096
#define SLOT (64 * 1024)
#define SLOTS 256

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: biodio DEV WRITES READS | biodio DEV seq N\n");
		return 2;
	}
	int fd = open(argv[1], O_RDWR | O_DIRECT);
	if (fd < 0) { perror("open"); return 1; }
	void *buf;
	if (posix_memalign(&buf, PAGE, 4 * PAGE))
		return 1;
	memset(buf, 0x5a, 4 * PAGE);
	setvbuf(stdout, NULL, _IOFBF, 1 << 16); /* printed at exit: no write between I/Os */

	if (!strcmp(argv[2], "seq")) {
		long n = atol(argv[3]);
		for (long i = 0; i < n; i++) {
			if (pread(fd, buf, PAGE, i * PAGE) != PAGE) { perror("pread"); return 1; }
			printf("R %ld %d\n", i * PAGE / 512, PAGE);
		}
		return 0;
	}

	if (!strcmp(argv[2], "aio")) {
		long n = atol(argv[3]);
		if (n < 1 || n > 16) { fprintf(stderr, "1 to 16 I/Os\n"); return 2; }
		aio_context_t ctx = 0;
		struct iocb cbs[16], *list[16];
		struct io_event evs[16];
		void *bufs;
		if (syscall(SYS_io_setup, n, &ctx)) { perror("io_setup"); return 1; }
		if (posix_memalign(&bufs, PAGE, 16 * PAGE)) return 1;
		memset(bufs, 0, 16 * PAGE); /* faulted in now: no sleep while the requests are made */
		for (long i = 0; i < n; i++) {
			memset(&cbs[i], 0, sizeof(cbs[i]));
			cbs[i].aio_fildes = fd;
			cbs[i].aio_lio_opcode = IOCB_CMD_PREAD;
			cbs[i].aio_buf = (unsigned long)bufs + i * PAGE;
			cbs[i].aio_nbytes = PAGE;
			cbs[i].aio_offset = (long long)((i * 37) % SLOTS) * SLOT; /* no two adjacent: no merging */
			list[i] = &cbs[i];
		}
		if (syscall(SYS_io_submit, ctx, n, list) != n) { perror("io_submit"); return 1; }
		for (long got = 0; got < n;) {
			long r = syscall(SYS_io_getevents, ctx, 1, n - got, evs, NULL);
			if (r < 0) { perror("io_getevents"); return 1; }
			for (long j = 0; j < r; j++)
				if (evs[j].res != PAGE) { fprintf(stderr, "aio read: %lld\n", (long long)evs[j].res); return 1; }
			got += r;
		}
		for (long i = 0; i < n; i++)
			printf("R %lld %d\n", cbs[i].aio_offset / 512, PAGE);
		return 0;
	}

	long writes = atol(argv[2]), reads = atol(argv[3]);
	if (writes < 0 || reads < 0 || writes + reads > SLOTS) {
		fprintf(stderr, "at most %d I/Os\n", SLOTS);
		return 2;
	}
	for (long i = 0; i < writes + reads; i++) {
		off_t off = (off_t)((i * 37) % SLOTS) * SLOT + 512 * (i % 3);
		size_t len = PAGE * (1 + i % 4);
		int w = i < writes;
		ssize_t n = w ? pwrite(fd, buf, len, off) : pread(fd, buf, len, off);
		if (n != (ssize_t)len) { perror(w ? "pwrite" : "pread"); return 1; }
		printf("%c %lld %zu\n", w ? 'W' : 'R', (long long)(off / 512), len);
	}
	return 0;
}
