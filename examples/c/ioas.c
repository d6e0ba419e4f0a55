/*
 * ioas: a VMM's view of an IOAS through the uAPI TsmLab models: guest RAM (an mmap'd buffer)
 * mapped at fixed and kernel-chosen IOVAs, the usable ranges before and after a device's IOMMU
 * domain joins, COPY into a second IOAS, a memfd mapped with IOMMU_IOAS_MAP_FILE, unmap rules,
 * options, hardware information, the answer when a domain would pin memory that is gone, and
 * the VFIO type1 container ioctls on the same fd. Each line is
 *
 *   ok   CALL -> RESULT        (the expected answer)
 *   FAIL CALL -> RESULT (expected ...)
 *
 * Run it under the model:  tsmlab run [--host sev|cca|tdx|default] -- ./ioas
 * Exit 0 when every call gave the expected answer.
 *
 * Build: cc -O2 -Wall -o ioas ioas.c   (tsmlab-uapi.h from `tsmlab abi --header`)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include "tsmlab-uapi.h"

static int failures;

/* Prints one call's answer; expect_errno 0 means success is expected. */
static int check(const char *call, long rc, int expect_errno, const char *detail)
{
	int e = rc < 0 ? errno : 0;
	int ok = expect_errno ? (rc < 0 && e == expect_errno) : rc >= 0;
	if (!ok) failures++;
	if (rc < 0)
		printf("%s %s -> %s%s%s\n", ok ? "ok  " : "FAIL", call, strerrorname_np(e),
		       ok ? "" : " (expected ", ok ? "" : (expect_errno ? strerrorname_np(expect_errno) : "success)"));
	else
		printf("%s %s -> %s%s\n", ok ? "ok  " : "FAIL", call, detail ? detail : "0",
		       ok ? "" : " (expected an error)");
	return ok;
}

static long map(int fd, uint32_t ioas, uint32_t flags, void *va, uint64_t length, uint64_t *iova)
{
	struct iommu_ioas_map m = { .size = sizeof m, .flags = flags, .ioas_id = ioas,
				    .user_va = (uintptr_t)va, .length = length, .iova = *iova };
	long rc = ioctl(fd, IOMMU_IOAS_MAP, &m);
	if (rc == 0) *iova = m.iova;
	return rc;
}

static long unmap(int fd, uint32_t ioas, uint64_t iova, uint64_t length, uint64_t *unmapped)
{
	struct iommu_ioas_unmap u = { .size = sizeof u, .ioas_id = ioas, .iova = iova, .length = length };
	long rc = ioctl(fd, IOMMU_IOAS_UNMAP, &u);
	*unmapped = u.length;
	return rc;
}

static long ranges(int fd, uint32_t ioas, struct iommu_iova_range *out, uint32_t max, char *detail, size_t n)
{
	struct iommu_ioas_iova_ranges r = { .size = sizeof r, .ioas_id = ioas, .num_iovas = max, .allowed_iovas = (uintptr_t)out };
	long rc = ioctl(fd, IOMMU_IOAS_IOVA_RANGES, &r);
	int at = snprintf(detail, n, "num_iovas=%u alignment=0x%llx", r.num_iovas, (unsigned long long)r.out_iova_alignment);
	for (uint32_t i = 0; rc == 0 && i < r.num_iovas && i < max && at < (int)n; i++)
		at += snprintf(detail + at, n - at, " [0x%llx, 0x%llx]", (unsigned long long)out[i].start, (unsigned long long)out[i].last);
	return rc;
}

int main(void)
{
	const uint32_t rw = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE;
	const uint32_t fixed_rw = rw | IOMMU_IOAS_MAP_FIXED_IOVA;
	const size_t ram_size = 1u << 20;
	char detail[512];
	struct iommu_iova_range r[8];
	uint64_t iova, n;

	int fd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (!check("open(\"/dev/iommu\")", fd, 0, NULL)) return 1;
	struct iommu_ioas_alloc a = { .size = sizeof a };
	if (!check("IOMMU_IOAS_ALLOC", ioctl(fd, IOMMU_IOAS_ALLOC, &a), 0, NULL)) return 1;
	uint32_t ioas = a.out_ioas_id;

	/* Guest RAM: an anonymous mapping, as QEMU's memory backend. */
	char *ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ram == MAP_FAILED) { perror("mmap"); return 1; }

	check("IOMMU_IOAS_IOVA_RANGES(num_iovas=0)", ranges(fd, ioas, r, 0, detail, sizeof detail), EMSGSIZE, NULL);
	long rc = ranges(fd, ioas, r, 8, detail, sizeof detail);
	check("IOMMU_IOAS_IOVA_RANGES (no domain)", rc, 0, detail);

	iova = 0;
	rc = map(fd, ioas, fixed_rw, ram, ram_size, &iova);
	snprintf(detail, sizeof detail, "iova=0x%llx", (unsigned long long)iova);
	check("IOMMU_IOAS_MAP(FIXED_IOVA, iova=0: guest RAM at GPA 0)", rc, 0, detail);
	iova = 0x80000;
	check("IOMMU_IOAS_MAP(FIXED_IOVA, overlapping)", map(fd, ioas, fixed_rw, ram, 0x1000, &iova), EEXIST, NULL);
	iova = 0;
	check("IOMMU_IOAS_MAP(no READABLE/WRITEABLE)", map(fd, ioas, IOMMU_IOAS_MAP_FIXED_IOVA, ram, 0x1000, &iova), EINVAL, NULL);
	check("IOMMU_IOAS_MAP(length=U64_MAX)", map(fd, ioas, rw, ram, UINT64_MAX, &iova), EOVERFLOW, NULL);
	check("IOMMU_IOAS_MAP(ioas_id=999)", map(fd, 999, rw, ram, 0x1000, &iova), ENOENT, NULL);
	iova = 0;
	rc = map(fd, ioas, rw, ram + 0x10000, 0x10000, &iova);
	snprintf(detail, sizeof detail, "iova=0x%llx", (unsigned long long)iova);
	check("IOMMU_IOAS_MAP(kernel-chosen IOVA)", rc, 0, detail);
	uint64_t chosen = iova;

	check("IOMMU_IOAS_UNMAP(part of the RAM area)", unmap(fd, ioas, 0x1000, 0x1000, &n), ENOENT, NULL);
	check("IOMMU_IOAS_UNMAP(length=0)", unmap(fd, ioas, 0x1000, 0, &n), EINVAL, NULL);

	struct iommu_ioas_alloc b = { .size = sizeof b };
	check("IOMMU_IOAS_ALLOC (second)", ioctl(fd, IOMMU_IOAS_ALLOC, &b), 0, NULL);
	struct iommu_ioas_copy c = { .size = sizeof c, .flags = fixed_rw, .dst_ioas_id = b.out_ioas_id, .src_ioas_id = ioas,
				     .length = ram_size, .dst_iova = 0x40000000, .src_iova = 0 };
	rc = ioctl(fd, IOMMU_IOAS_COPY, &c);
	snprintf(detail, sizeof detail, "dst_iova=0x%llx", (unsigned long long)c.dst_iova);
	check("IOMMU_IOAS_COPY(guest RAM into the second IOAS)", rc, 0, detail);

	struct iommu_iova_range overlap[2] = { { 0x100000, 0x1fffff }, { 0x180000, 0x2fffff } };
	struct iommu_ioas_allow_iovas allow = { .size = sizeof allow, .ioas_id = b.out_ioas_id, .num_iovas = 2, .allowed_iovas = (uintptr_t)overlap };
	check("IOMMU_IOAS_ALLOW_IOVAS(overlapping ranges)", ioctl(fd, IOMMU_IOAS_ALLOW_IOVAS, &allow), EINVAL, NULL);

	struct iommu_option opt = { .size = sizeof opt, .option_id = IOMMU_OPTION_HUGE_PAGES, .op = IOMMU_OPTION_OP_GET, .object_id = ioas };
	rc = ioctl(fd, IOMMU_OPTION, &opt);
	snprintf(detail, sizeof detail, "val64=%llu", (unsigned long long)opt.val64);
	check("IOMMU_OPTION(HUGE_PAGES, GET)", rc, 0, detail);
	struct iommu_option mode = { .size = sizeof mode, .option_id = IOMMU_OPTION_RLIMIT_MODE, .op = IOMMU_OPTION_OP_GET };
	rc = ioctl(fd, IOMMU_OPTION, &mode);
	snprintf(detail, sizeof detail, "val64=%llu", (unsigned long long)mode.val64);
	check("IOMMU_OPTION(RLIMIT_MODE, GET)", rc, 0, detail);

	/* A device and its IOMMU: hardware information, then a domain on the IOAS. */
	int vfio = open("/dev/vfio/devices/vfio0", O_RDWR | O_CLOEXEC);
	if (!check("open(\"/dev/vfio/devices/vfio0\")", vfio, 0, NULL)) return 1;
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof bind, .iommufd = (uint32_t)fd };
	if (!check("VFIO_DEVICE_BIND_IOMMUFD", ioctl(vfio, VFIO_DEVICE_BIND_IOMMUFD, &bind), 0, NULL)) return 1;
	uint8_t data[64];
	memset(data, 0xaa, sizeof data);
	struct iommu_hw_info hw = { .size = sizeof hw, .dev_id = bind.out_devid, .data_len = sizeof data, .data_uptr = (uintptr_t)data };
	rc = ioctl(fd, IOMMU_GET_HW_INFO, &hw);
	snprintf(detail, sizeof detail, "type=%u data_len=%u capabilities=0x%llx", hw.out_data_type, hw.data_len,
		 (unsigned long long)hw.out_capabilities);
	check("IOMMU_GET_HW_INFO", rc, 0, detail);

	/* A third IOAS maps memory that is then unmapped: no domain yet, so the map is lazy and
	 * succeeds; the HWPT that would pin it gets EFAULT. */
	struct iommu_ioas_alloc gone = { .size = sizeof gone };
	check("IOMMU_IOAS_ALLOC (third)", ioctl(fd, IOMMU_IOAS_ALLOC, &gone), 0, NULL);
	char *tmp = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	iova = 0x100000;
	check("IOMMU_IOAS_MAP(memory about to be unmapped)", map(fd, gone.out_ioas_id, fixed_rw, tmp, 0x10000, &iova), 0, NULL);
	munmap(tmp, 0x10000);
	struct iommu_hwpt_alloc h0 = { .size = sizeof h0, .dev_id = bind.out_devid, .pt_id = gone.out_ioas_id };
	check("IOMMU_HWPT_ALLOC(over unmapped memory)", ioctl(fd, IOMMU_HWPT_ALLOC, &h0), EFAULT, NULL);

	struct iommu_hwpt_alloc h = { .size = sizeof h, .dev_id = bind.out_devid, .pt_id = ioas };
	rc = ioctl(fd, IOMMU_HWPT_ALLOC, &h);
	snprintf(detail, sizeof detail, "hwpt_id=%u (guest RAM pinned)", h.out_hwpt_id);
	check("IOMMU_HWPT_ALLOC(paging, on the RAM's IOAS)", rc, 0, detail);
	struct vfio_device_attach_iommufd_pt at = { .argsz = sizeof at, .pt_id = h.out_hwpt_id };
	check("VFIO_DEVICE_ATTACH_IOMMUFD_PT", ioctl(vfio, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at), 0, NULL);
	rc = ranges(fd, ioas, r, 8, detail, sizeof detail);
	check("IOMMU_IOAS_IOVA_RANGES (domain attached)", rc, 0, detail);
	iova = 0x200001;
	check("IOMMU_IOAS_MAP(FIXED_IOVA unaligned, domain attached)", map(fd, ioas, fixed_rw, ram, 0x1000, &iova), EINVAL, NULL);

	/* Guest RAM backed by a memfd, as QEMU's memory-backend-memfd: mapped by file offset. */
	int mfd = memfd_create("guest-ram", MFD_CLOEXEC);
	if (mfd < 0 || ftruncate(mfd, 0x100000) < 0) { perror("memfd"); return 1; }
	struct iommu_ioas_map_file mf = { .size = sizeof mf, .flags = fixed_rw, .ioas_id = ioas, .fd = (uint32_t)mfd,
					  .start = 0, .length = 0x100000, .iova = 0x10000000 };
	rc = ioctl(fd, IOMMU_IOAS_MAP_FILE, &mf);
	snprintf(detail, sizeof detail, "iova=0x%llx (memfd pages pinned)", (unsigned long long)mf.iova);
	check("IOMMU_IOAS_MAP_FILE(memfd, domain attached)", rc, 0, detail);
	struct iommu_ioas_map_file past = { .size = sizeof past, .flags = fixed_rw, .ioas_id = ioas, .fd = (uint32_t)mfd,
					    .start = 0x80000, .length = 0x100000, .iova = 0x20000000 };
	check("IOMMU_IOAS_MAP_FILE(past the end of the memfd)", ioctl(fd, IOMMU_IOAS_MAP_FILE, &past), EINVAL, NULL);
	close(mfd); /* the mapping holds the file */

	check("IOMMU_IOAS_UNMAP(the kernel-chosen area)", unmap(fd, ioas, chosen, 0x10000, &n), 0, NULL);
	rc = unmap(fd, ioas, 0, UINT64_MAX, &n);
	snprintf(detail, sizeof detail, "unmapped=0x%llx", (unsigned long long)n);
	check("IOMMU_IOAS_UNMAP(0, U64_MAX: everything)", rc, 0, detail);

	/* The VFIO type1 container ioctls on the same fd, on the compat IOAS IOMMU_VFIO_IOAS chose. */
	struct iommu_vfio_ioas compat = { .size = sizeof compat, .op = IOMMU_VFIO_IOAS_GET };
	check("IOMMU_VFIO_IOAS(GET, none yet)", ioctl(fd, IOMMU_VFIO_IOAS, &compat), ENODEV, NULL);
	compat.op = IOMMU_VFIO_IOAS_SET;
	compat.ioas_id = b.out_ioas_id;
	check("IOMMU_VFIO_IOAS(SET, the second IOAS)", ioctl(fd, IOMMU_VFIO_IOAS, &compat), 0, NULL);
	rc = ioctl(fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU);
	snprintf(detail, sizeof detail, "%ld", rc);
	check("VFIO_CHECK_EXTENSION(VFIO_TYPE1v2_IOMMU)", rc, 0, detail);
	check("VFIO_SET_IOMMU(VFIO_TYPE1v2_IOMMU)", ioctl(fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), 0, NULL);
	struct vfio_iommu_type1_dma_map dm = { .argsz = sizeof dm, .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
					       .vaddr = (uintptr_t)ram, .iova = 0x80000000, .size = 0x10000 };
	check("VFIO_IOMMU_MAP_DMA", ioctl(fd, VFIO_IOMMU_MAP_DMA, &dm), 0, NULL);
	struct vfio_iommu_type1_dma_unmap du = { .argsz = sizeof du, .flags = VFIO_DMA_UNMAP_FLAG_ALL };
	rc = ioctl(fd, VFIO_IOMMU_UNMAP_DMA, &du);
	snprintf(detail, sizeof detail, "size=0x%llx", (unsigned long long)du.size);
	check("VFIO_IOMMU_UNMAP_DMA(ALL)", rc, 0, detail);

	close(vfio);
	close(fd);
	printf("%s: %d call(s) failed\n", failures ? "FAILED" : "ioas", failures);
	return failures ? 1 : 0;
}
