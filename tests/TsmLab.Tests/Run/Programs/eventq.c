/*
 * eventq: iommufd's event queue fds under `tsmlab run` (tests/TsmLab.Tests/Run/EventQueueRunTests.cs).
 * On the selftest host: a mock device, a nest-parent HWPT, a fault queue and an IOPF-capable
 * nested HWPT the device moves to; TRIGGER_IOPF, then this program reads the fault from its fd
 * and writes the response; then the mock vIOMMU with a vEVENTQ, a vDevice and its nested HWPT,
 * TRIGGER_VEVENT, poll and read of the vEVENT, and past the queue's depth the lost-events
 * header. Layouts written out by offset (the offsets of src/TsmLab/Abi; TsmLab's own code).
 * Prints "eventq: ok" and exits 0 when every answer was the expected one.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define IOMMU_IOAS_ALLOC 0x3b81
#define IOMMU_HWPT_ALLOC 0x3b89
#define IOMMU_FAULT_QUEUE_ALLOC 0x3b8e
#define IOMMU_VIOMMU_ALLOC 0x3b90
#define IOMMU_VDEVICE_ALLOC 0x3b91
#define IOMMU_VEVENTQ_ALLOC 0x3b93
#define IOMMU_TEST_CMD 0x3ba0

static int fail(const char *what)
{
	printf("eventq: FAIL %s (errno %d)\n", what, errno);
	return 1;
}

static uint32_t *u32(uint8_t *b, int off) { return (uint32_t *)(b + off); }
static uint64_t *u64(uint8_t *b, int off) { return (uint64_t *)(b + off); }

static int test_cmd(int fd, uint8_t *cmd, uint32_t op, uint32_t id)
{
	*u32(cmd, 0) = 72;
	*u32(cmd, 4) = op;
	*u32(cmd, 8) = id;
	return ioctl(fd, IOMMU_TEST_CMD, cmd);
}

/* IOMMU_HWPT_ALLOC: a nested HWPT with iommu_hwpt_selftest data when pt is not the IOAS. */
static int hwpt_alloc(int fd, uint32_t flags, uint32_t dev, uint32_t pt, int nested, uint32_t fault, uint32_t *out)
{
	static uint32_t iotlb = 0xbadbeef;
	uint8_t a[48] = { 0 };
	*u32(a, 0) = sizeof(a);
	*u32(a, 4) = flags;
	*u32(a, 8) = dev;
	*u32(a, 12) = pt;
	if (nested) {
		*u32(a, 24) = 0xdead;
		*u32(a, 28) = 4;
		*u64(a, 32) = (uintptr_t)&iotlb;
	}
	*u32(a, 40) = fault;
	if (ioctl(fd, IOMMU_HWPT_ALLOC, a)) return -1;
	*out = *u32(a, 16);
	return 0;
}

int main(void)
{
	uint8_t b[72] = { 0 }, cmd[72];
	uint32_t ioas, stdev, idev, parent, iopf, viommu, nested;
	int fd = open("/dev/iommu", O_RDWR);
	if (fd < 0) return fail("open /dev/iommu");
	*u32(b, 0) = 12;
	if (ioctl(fd, IOMMU_IOAS_ALLOC, b)) return fail("IOAS_ALLOC");
	ioas = *u32(b, 8);
	memset(cmd, 0, sizeof(cmd));
	if (test_cmd(fd, cmd, 2, ioas)) return fail("MOCK_DOMAIN");
	stdev = *u32(cmd, 16);
	idev = *u32(cmd, 24);
	if (hwpt_alloc(fd, 1, idev, ioas, 0, 0, &parent)) return fail("HWPT_ALLOC nest parent");

	memset(b, 0, sizeof(b));
	*u32(b, 0) = 16;
	if (ioctl(fd, IOMMU_FAULT_QUEUE_ALLOC, b)) return fail("FAULT_QUEUE_ALLOC");
	uint32_t fault_id = *u32(b, 8);
	int fault_fd = (int)*u32(b, 12);
	if (hwpt_alloc(fd, 4, idev, parent, 1, fault_id, &iopf)) return fail("HWPT_ALLOC iopf");
	memset(cmd, 0, sizeof(cmd));
	*u32(cmd, 16) = iopf;
	if (test_cmd(fd, cmd, 10, stdev)) return fail("MOCK_DOMAIN_REPLACE iopf");

	memset(cmd, 0, sizeof(cmd));
	*u32(cmd, 16) = idev;
	*u32(cmd, 20) = 1;
	*u32(cmd, 24) = 2;
	*u32(cmd, 28) = 3;
	*u64(cmd, 32) = 0xdeadbeaf;
	if (test_cmd(fd, cmd, 15, 0)) return fail("TRIGGER_IOPF");
	uint8_t pgfault[40];
	if (read(fault_fd, pgfault, sizeof(pgfault)) != sizeof(pgfault)) return fail("read fault");
	if (*u32(pgfault, 4) != idev || *u32(pgfault, 8) != 1 || *u64(pgfault, 24) != 0xdeadbeaf) return fail("fault record");
	uint32_t response[2] = { *u32(pgfault, 36), 0 };
	if (write(fault_fd, response, sizeof(response)) != sizeof(response)) return fail("write response");
	if (read(fault_fd, pgfault, sizeof(pgfault)) != -1 || errno != EAGAIN) return fail("read of an empty fault queue");

	memset(b, 0, sizeof(b));
	*u32(b, 0) = 40;
	*u32(b, 8) = 0xdeadbeef;
	*u32(b, 12) = idev;
	*u32(b, 16) = parent;
	if (ioctl(fd, IOMMU_VIOMMU_ALLOC, b)) return fail("VIOMMU_ALLOC");
	viommu = *u32(b, 20);
	memset(b, 0, sizeof(b));
	*u32(b, 0) = 32;
	*u32(b, 8) = viommu;
	*u32(b, 12) = 0xbeefbeef;
	*u32(b, 16) = 2;
	if (ioctl(fd, IOMMU_VEVENTQ_ALLOC, b)) return fail("VEVENTQ_ALLOC");
	int veventq_fd = (int)*u32(b, 24);
	memset(b, 0, sizeof(b));
	*u32(b, 0) = 24;
	*u32(b, 4) = viommu;
	*u32(b, 8) = idev;
	*u64(b, 16) = 0x99;
	if (ioctl(fd, IOMMU_VDEVICE_ALLOC, b)) return fail("VDEVICE_ALLOC");
	if (hwpt_alloc(fd, 0, idev, viommu, 1, 0, &nested)) return fail("HWPT_ALLOC on the vIOMMU");
	memset(cmd, 0, sizeof(cmd));
	*u32(cmd, 16) = nested;
	if (test_cmd(fd, cmd, 10, stdev)) return fail("MOCK_DOMAIN_REPLACE nested");
	memset(cmd, 0, sizeof(cmd));
	*u32(cmd, 16) = idev;
	if (test_cmd(fd, cmd, 17, 0)) return fail("TRIGGER_VEVENT");
	struct pollfd p = { .fd = veventq_fd, .events = POLLIN };
	if (poll(&p, 1, 1000) != 1) return fail("poll vEVENTQ");
	uint8_t vevent[12];
	if (read(veventq_fd, vevent, sizeof(vevent)) != sizeof(vevent)) return fail("read vEVENT");
	if (*u32(vevent, 0) != 0 || *u32(vevent, 4) != 0 || *u32(vevent, 8) != 0x99) return fail("vEVENT record");

	/* Depth 2: three more events before a read give two events and the lost-events header. */
	for (int i = 0; i < 3; i++)
		if (test_cmd(fd, cmd, 17, 0)) return fail("TRIGGER_VEVENT x3");
	uint8_t three[36];
	if (read(veventq_fd, three, sizeof(three)) != 32) return fail("read past the depth");
	if (*u32(three, 4) != 1 || *u32(three, 16) != 2 || *u32(three, 24) != 1 || *u32(three, 28) != 3) return fail("lost-events header");
	if (test_cmd(fd, cmd, 17, 0)) return fail("TRIGGER_VEVENT after the overflow");
	if (read(veventq_fd, vevent, sizeof(vevent)) != sizeof(vevent) || *u32(vevent, 4) != 4) return fail("vEVENT after the overflow");

	close(veventq_fd);
	close(fault_fd);
	printf("eventq: ok\n");
	return 0;
}
