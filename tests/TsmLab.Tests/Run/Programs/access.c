/*
 * access: the mock driver's access fd under `tsmlab run` (tests/TsmLab.Tests/Run/AccessRunTests.cs).
 * On the selftest host: an IOAS with 2 pages of this program's memory, CREATE_ACCESS (a new
 * O_CLOEXEC fd), ACCESS_PAGES (the page pinned: MD_CHECK_REFS 1), ACCESS_RW both ways, the IOAS
 * busy while the access exists, then close(access fd) and exit: the test checks that everything
 * was released. Layouts written out by offset (the offsets of src/TsmLab/Abi; TsmLab's own code).
 * Prints "access: ok ..." and exits 0 when every answer was the expected one.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define IOMMU_DESTROY 0x3b80
#define IOMMU_IOAS_ALLOC 0x3b81
#define IOMMU_IOAS_MAP 0x3b85
#define IOMMU_TEST_CMD 0x3ba0
#define IOVA 0x400000ul

static int fail(const char *what)
{
	printf("access: FAIL %s (errno %d)\n", what, errno);
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

int main(void)
{
	uint8_t alloc[12] = { 0 }, map[40] = { 0 }, cmd[72], destroy[8] = { 0 };
	int fd = open("/dev/iommu", O_RDWR);
	if (fd < 0) return fail("open /dev/iommu");
	*u32(alloc, 0) = sizeof(alloc);
	if (ioctl(fd, IOMMU_IOAS_ALLOC, alloc)) return fail("IOAS_ALLOC");
	uint32_t ioas = *u32(alloc, 8);

	uint8_t *buf = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) return fail("mmap");
	memset(buf, 0, 2 * 4096);
	*u32(map, 0) = sizeof(map);
	*u32(map, 4) = 1 | 2 | 4; /* FIXED_IOVA | WRITEABLE | READABLE */
	*u32(map, 8) = ioas;
	*u64(map, 16) = (uintptr_t)buf;
	*u64(map, 24) = 2 * 4096;
	*u64(map, 32) = IOVA;
	if (ioctl(fd, IOMMU_IOAS_MAP, map)) return fail("IOAS_MAP");

	memset(cmd, 0, sizeof(cmd));
	*u32(cmd, 20) = 1; /* NEEDS_PIN_PAGES */
	if (test_cmd(fd, cmd, 5, ioas)) return fail("CREATE_ACCESS");
	int access = (int)*u32(cmd, 16);
	int fdflags = fcntl(access, F_GETFD);
	if (fdflags < 0 || !(fdflags & FD_CLOEXEC)) return fail("access fd not O_CLOEXEC");

	memset(cmd, 0, sizeof(cmd));
	*u64(cmd, 24) = IOVA;
	*u64(cmd, 32) = 4096;
	*u64(cmd, 40) = (uintptr_t)buf;
	if (test_cmd(fd, cmd, 7, access)) return fail("ACCESS_PAGES");
	memset(cmd, 0, sizeof(cmd));
	*u64(cmd, 16) = 4096;
	*u64(cmd, 24) = (uintptr_t)buf;
	*u32(cmd, 32) = 1;
	if (test_cmd(fd, cmd, 4, 0)) return fail("MD_CHECK_REFS 1");

	char word[] = "model", back[sizeof(word)] = { 0 };
	memset(cmd, 0, sizeof(cmd));
	*u64(cmd, 16) = IOVA + 4096 - 2; /* across the page boundary */
	*u64(cmd, 24) = sizeof(word);
	*u64(cmd, 32) = (uintptr_t)word;
	*u32(cmd, 40) = 1; /* WRITE */
	if (test_cmd(fd, cmd, 8, access)) return fail("ACCESS_RW write");
	if (memcmp(buf + 4096 - 2, word, sizeof(word))) return fail("ACCESS_RW write not in memory");
	*u64(cmd, 32) = (uintptr_t)back;
	*u32(cmd, 40) = 0;
	if (test_cmd(fd, cmd, 8, access)) return fail("ACCESS_RW read");
	if (memcmp(back, word, sizeof(word))) return fail("ACCESS_RW read back");

	/* Another fd is not an access: EBADFD. */
	memset(cmd, 0, sizeof(cmd));
	if (test_cmd(fd, cmd, 6, fd) != -1 || errno != EBADFD) return fail("DESTROY_ACCESS_PAGES on the iommufd");

	*u32(destroy, 0) = sizeof(destroy);
	*u32(destroy, 4) = ioas;
	if (ioctl(fd, IOMMU_DESTROY, destroy) != -1 || errno != EBUSY) return fail("IOAS not busy");

	if (close(access)) return fail("close access");
	printf("access: ok fd %d cloexec\n", access);
	return 0;
}
