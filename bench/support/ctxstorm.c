// A context-switch storm for the scheduler tools' benchmarks (offcputime,
// runqlat): two threads of one process, pinned to CPU argv[2], passing a byte
// back and forth over two pipes, so every round trip is two wake-ups and two
// switches, from one thread to the other.
// Prints "ready", waits for a byte on stdin, runs argv[1] round trips, prints
// "trips switches cpu_ns wall_ns" (the process's CPU time and the wall time of
// the timed loop), then waits for stdin to close.
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
static int ab[2], ba[2];
static long trips;
static void *echo(void *arg) {
  char c;
  for (long i = 0; i < trips; i++) {
    if (read(ab[0], &c, 1) != 1 || write(ba[1], &c, 1) != 1) exit(1);
  }
  return arg;
}
static double ns(struct timespec t) { return t.tv_sec * 1e9 + t.tv_nsec; }
static long switches(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_nvcsw + ru.ru_nivcsw;
}
int main(int argc, char **argv) {
  cpu_set_t one;
  pthread_t t;
  char c = 'x';
  struct timespec c0, c1, w0, w1;
  trips = atol(argv[1]);
  CPU_ZERO(&one);
  CPU_SET(atoi(argv[2]), &one);
  if (sched_setaffinity(0, sizeof(one), &one) || pipe(ab) || pipe(ba)) return 1;
  setvbuf(stdout, NULL, _IONBF, 0);
  puts("ready");
  if (read(0, &c, 1) != 1) return 1;
  pthread_create(&t, NULL, echo, NULL);
  long s0 = switches();
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
  clock_gettime(CLOCK_MONOTONIC, &w0);
  for (long i = 0; i < trips; i++) {
    if (write(ab[1], &c, 1) != 1 || read(ba[0], &c, 1) != 1) return 1;
  }
  clock_gettime(CLOCK_MONOTONIC, &w1);
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
  long s1 = switches();
  pthread_join(t, NULL);
  printf("%ld %ld %.0f %.0f\n", trips, s1 - s0, ns(c1) - ns(c0), ns(w1) - ns(w0));
  while (read(0, &c, 1) > 0) {}
  return 0;
}
