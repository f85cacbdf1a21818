// A program that works: a few files, allocations and frees, then exit 0.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

int main(void)
{
	for (int i = 0; i < 10; i++) {
		int fd = open("/dev/null", O_RDONLY);
		char *p = malloc(4096);
		read(fd, p, 16);
		close(fd);
		free(p);
		usleep(5000);
	}
	return 0;
}
