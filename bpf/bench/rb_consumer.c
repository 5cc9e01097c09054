/* Baseline consumer for the ring buffer benchmark: libbpf's ring buffer API in C on the same
 * map (by id), reading each record's sequence number (low 32 bits) in place, as the JS
 * consumer does.
 *   rb_consumer MAP_ID SECONDS   poll while a producer runs
 *   rb_consumer MAP_ID --drain   time the draining of an already filled ring */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static unsigned long records;
static unsigned long long seqsum;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int on_record(void *ctx, void *data, size_t len)
{
	seqsum += *(volatile unsigned int *)data;
	records++;
	return 0;
}

int main(int argc, char **argv)
{
	struct ring_buffer *rb;
	double start, end;
	int fd;

	if (argc != 3) {
		fprintf(stderr, "usage: %s MAP_ID SECONDS|--drain\n", argv[0]);
		return 2;
	}
	fd = bpf_map_get_fd_by_id(atoi(argv[1]));
	if (fd < 0) {
		perror("bpf_map_get_fd_by_id");
		return 1;
	}
	rb = ring_buffer__new(fd, on_record, NULL, NULL);
	if (!rb) {
		perror("ring_buffer__new");
		return 1;
	}
	if (strcmp(argv[2], "--drain") == 0) {
		start = now();
		ring_buffer__consume(rb);
		printf("{\"records\":%lu,\"seconds\":%.6f}\n", records, now() - start);
		ring_buffer__free(rb);
		return 0;
	}
	/* Start from an empty ring so only records produced while measuring count. */
	ring_buffer__consume(rb);
	records = 0;
	printf("ready\n");
	fflush(stdout);
	start = now();
	end = start + atof(argv[2]);
	while (now() < end)
		ring_buffer__poll(rb, 100);
	printf("{\"records\":%lu,\"seconds\":%.6f}\n", records, now() - start);
	ring_buffer__free(rb);
	return 0;
}
