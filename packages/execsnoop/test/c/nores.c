/* nores FILE SPLIT PATH ARG...: execve(PATH, ["echo", ARG...]) with the argv
 * array and its strings in a shared file mapping whose pages were unmapped
 * (MADV_DONTNEED) just before the call: only the first SPLIT pointers stay
 * resident. The kernel faults the rest back in; a BPF read at entry cannot. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
extern char **environ;
int main(int argc, char **argv)
{
	long page = sysconf(_SC_PAGESIZE);
	int split = atoi(argv[2]), n = argc - 4 + 1, i;
	size_t need = (n + 1) * sizeof(char *), size;
	char *map, **ptrs, *s;

	for (i = 4; i < argc; i++)
		need += strlen(argv[i]) + 1;
	size = (page + need + 5 + page - 1) / page * page + page;
	int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, size)) { perror("file"); return 2; }
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) { perror("mmap"); return 2; }
	ptrs = (char **)(map + page - split * sizeof(char *));
	s = (char *)(ptrs + n + 1);
	ptrs[0] = s;
	strcpy(s, "echo");
	s += 5;
	for (i = 4; i < argc; i++) {
		ptrs[i - 3] = s;
		strcpy(s, argv[i]);
		s += strlen(argv[i]) + 1;
	}
	ptrs[n] = NULL;
	if (msync(map, size, MS_SYNC) || madvise(map + page, size - page, MADV_DONTNEED)) { perror("madvise"); return 2; }
	execve(argv[3], ptrs, environ);
	perror("execve");
	return 127;
}
