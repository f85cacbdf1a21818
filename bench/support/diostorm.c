// A direct-I/O storm for the block tools' benchmarks (biolatency, biosnoop).
//   diostorm FILE prep N   writes N 4 KiB blocks to FILE and fsyncs them
//   diostorm FILE read N   N random 4 KiB O_DIRECT reads of FILE
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#define BS 4096
int main(int argc, char **argv) {
  void *buf;
  if (posix_memalign(&buf, BS, BS)) return 1;
  memset(buf, 0x5a, BS);
  long n = atol(argv[3]);
  if (!strcmp(argv[2], "prep")) {            /* n blocks, written and fsync'd */
    int fd = open(argv[1], O_CREAT | O_TRUNC | O_WRONLY, 0600);
    for (long i = 0; i < n; i++) if (write(fd, buf, BS) != BS) return 1;
    return fsync(fd) ? 1 : 0;
  }
  int fd = open(argv[1], O_RDONLY | O_DIRECT);
  if (fd < 0) return 1;
  off_t blocks = lseek(fd, 0, SEEK_END) / BS;
  unsigned long x = 88172645463325252UL ^ (unsigned long)getpid();
  for (long i = 0; i < n; i++) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    if (pread(fd, buf, BS, (off_t)(x % blocks) * BS) != BS) return 1;
  }
  return 0;
}
