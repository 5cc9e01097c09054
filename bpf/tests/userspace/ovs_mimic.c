/* A stand-in for ovs-vswitchd's handler threads, for testing upcall tracking: Debian builds
 * ovs-vswitchd without USDT probes. It fires the probes ovs-vswitchd fires, with the same
 * provider, names and argument layout (OVS's Documentation/topics/usdt-probes.rst):
 *   dpif_recv:recv_upcall(dpif name, type, packet, size, key, key size)
 *   dpif_netlink_operate__:op_flow_put(dpif, struct dpif_flow_put *, flow, request)
 *   dpif_netlink_operate__:op_flow_execute(dpif, struct dpif_execute *, packet, size, request)
 * for UDP frames it makes (and optionally sends on an interface first, so that the kernel
 * datapath upcalls them for real). Each thread handles its frames as one batch: it reads them
 * all, then for each a put and an execute, except every third frame, which gets only the
 * execute (a flow it would not install). Built as `ovs-vswitchd` so that retrace finds it the way
 * it finds the real daemon. Prints `frame <i> <thread> <ops> <hex bytes>` per frame.
 * --wait-signal: wait for SIGUSR1 before starting (so a tracer can find it first).
 *   ovs-vswitchd --mimic [--iface IF] [--dst MAC] [--src MAC] [--count N] [--threads T] [--wait-ms MS]
 *                [--wait-signal 1] */
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sdt.h>
#include <sys/socket.h>
#include <unistd.h>

#define FRAME_LEN 80
#define MAX_FRAMES 256

/* struct dpif_flow_put as OVS 3.x lays it out: the ufid pointer at offset 56. */
struct dpif_flow_put {
	int flags;
	const void *key;
	size_t key_len;
	const void *mask;
	size_t mask_len;
	const void *actions;
	size_t actions_len;
	const uint8_t *ufid;
	unsigned int pmd_id;
	void *stats;
};

static uint8_t frames[MAX_FRAMES][FRAME_LEN];
static uint8_t ufids[MAX_FRAMES][16];
static uint8_t dst_mac[6] = { 0x02, 0, 0, 0, 0, 0x02 }, src_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static int count = 4, threads = 1, wait_ms = 0, wait_signal = 0, sock = -1, ifindex;
static const char *dpif_name = "system@ovs-system";

static uint16_t ip_checksum(const uint8_t *h)
{
	uint32_t sum = 0;

	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)h[i] << 8 | h[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void make_frame(int i)
{
	uint8_t *f = frames[i], *ip = f + 14, *udp = ip + 20;
	uint16_t sport = htons(40000 + i), dport = htons(7777), ulen = htons(FRAME_LEN - 34), tlen = htons(FRAME_LEN - 14);
	uint16_t csum;

	memcpy(f, dst_mac, 6);
	memcpy(f + 6, src_mac, 6);
	f[12] = 0x08;
	f[13] = 0x00;
	ip[0] = 0x45;
	memcpy(ip + 2, &tlen, 2);
	ip[8] = 64;
	ip[9] = 17;
	ip[12] = 10, ip[13] = 7, ip[14] = 0, ip[15] = 1;
	ip[16] = 10, ip[17] = 7, ip[18] = 0, ip[19] = 2;
	csum = htons(ip_checksum(ip));
	memcpy(ip + 10, &csum, 2);
	memcpy(udp, &sport, 2);
	memcpy(udp + 2, &dport, 2);
	memcpy(udp + 4, &ulen, 2);
	snprintf((char *)udp + 8, FRAME_LEN - 42, "retrace ovs mimic %d", i);
	for (int b = 0; b < 16; b++)
		ufids[i][b] = (uint8_t)(i * 16 + b);
}

static void *handler(void *arg)
{
	int t = (int)(intptr_t)arg;
	uint8_t key[120] = { 0 }, dpif[64] = { 0 }, flow[64] = { 0 }, request[64] = { 0 }, exec[64] = { 0 };
	int j;

	if (sock >= 0) {
		struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_ifindex = ifindex, .sll_halen = 6 };

		memcpy(to.sll_addr, dst_mac, 6);
		for (int i = t; i < count; i += threads)
			if (sendto(sock, frames[i], FRAME_LEN, 0, (struct sockaddr *)&to, sizeof(to)) != FRAME_LEN)
				perror("sendto");
	}
	if (wait_ms)
		usleep(wait_ms * 1000);
	for (int i = t; i < count; i += threads) {
		uint8_t *p = frames[i];
		long size = FRAME_LEN, key_len = sizeof(key), type = 0;

		DTRACE_PROBE6(dpif_recv, recv_upcall, dpif_name, type, p, size, key, key_len);
	}
	j = 0;
	for (int i = t; i < count; i += threads, j++) {
		uint8_t *p = frames[i];
		long size = FRAME_LEN;

		if (j % 3 != 1) {
			struct dpif_flow_put put = { .flags = 1, .key = key, .key_len = sizeof(key), .ufid = ufids[i] };
			struct dpif_flow_put *pp = &put;

			DTRACE_PROBE4(dpif_netlink_operate__, op_flow_put, dpif, pp, flow, request);
		}
		DTRACE_PROBE5(dpif_netlink_operate__, op_flow_execute, dpif, exec, p, size, request);
	}
	return NULL;
}

static int parse_mac(const char *s, uint8_t *mac)
{
	return sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1], &mac[2], &mac[3], &mac[4], &mac[5]) == 6
		       ? 0
		       : -1;
}

int main(int argc, char **argv)
{
	pthread_t tids[16];
	const char *iface = NULL;

	if (argc < 2 || strcmp(argv[1], "--mimic")) {
		fprintf(stderr, "this is retrace's test stand-in for ovs-vswitchd's USDT probes; run with --mimic\n");
		return 2;
	}
	for (int i = 2; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--iface"))
			iface = argv[i + 1];
		else if (!strcmp(argv[i], "--count"))
			count = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--threads"))
			threads = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--wait-ms"))
			wait_ms = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--wait-signal"))
			wait_signal = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--dst") && !parse_mac(argv[i + 1], dst_mac))
			continue;
		else if (!strcmp(argv[i], "--src") && !parse_mac(argv[i + 1], src_mac))
			continue;
		else {
			fprintf(stderr, "bad option %s\n", argv[i]);
			return 2;
		}
	}
	if (count < 1 || count > MAX_FRAMES || threads < 1 || threads > 16) {
		fprintf(stderr, "--count is 1..%d, --threads 1..16\n", MAX_FRAMES);
		return 2;
	}
	if (iface) {
		ifindex = (int)if_nametoindex(iface);
		sock = socket(AF_PACKET, SOCK_RAW, 0);
		if (!ifindex || sock < 0) {
			perror(iface);
			return 1;
		}
	}
	for (int i = 0; i < count; i++) {
		int t = i % threads;

		make_frame(i);
		printf("frame %d %d %s ", i, t, (i / threads) % 3 == 1 ? "exec" : "put,exec");
		for (int b = 0; b < FRAME_LEN; b++)
			printf("%02x", frames[i][b]);
		printf("\n");
	}
	fflush(stdout);
	if (wait_signal) {
		sigset_t set;
		int sig;

		sigemptyset(&set);
		sigaddset(&set, SIGUSR1);
		sigprocmask(SIG_BLOCK, &set, NULL);
		sigwait(&set, &sig);
	}
	for (int t = 0; t < threads; t++)
		pthread_create(&tids[t], NULL, handler, (void *)(intptr_t)t);
	for (int t = 0; t < threads; t++)
		pthread_join(tids[t], NULL);
	return 0;
}
