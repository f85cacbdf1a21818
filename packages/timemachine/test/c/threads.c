// Two worker threads write to /dev/null; after its 20th write the second
// one follows a pointer it was never given (NULL) and faults in its
// own thread. Prints "tid <n>" for that thread first.
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

struct job {
	int id;
	struct job *next;
};

static int out;

__attribute__((noinline)) int next_id(struct job *j)
{
	return j->next->id; /* j->next is NULL: reads address 0 */
}

static void *worker(void *arg)
{
	long n = (long)arg;
	struct job j = { .id = (int)n, .next = NULL };

	if (n == 2) {
		printf("tid %d\n", gettid());
		fflush(stdout);
	}
	for (int i = 1;; i++) {
		write(out, "x", 1);
		usleep(2000);
		if (n == 2 && i == 20)
			return (void *)(long)next_id(&j);
	}
}

int main(void)
{
	pthread_t t1, t2;

	out = open("/dev/null", O_WRONLY);
	pthread_create(&t1, NULL, worker, (void *)1L);
	pthread_create(&t2, NULL, worker, (void *)2L);
	pthread_join(t2, NULL);
	return 0;
}
