/*
 * rm-client: a small Gunyah resource-manager client in C, written against memweave's RM
 * endpoint (src/server/rm-endpoint.ts) from the wire protocol alone:
 *
 *   - the stream carries message-queue messages, each a little-endian u32 byte count (1..240)
 *     followed by that many bytes;
 *   - a message is an 8-byte RPC header (0x21; type | continuations << 2; le16 seq;
 *     le32 msg_id) and up to 232 payload bytes; longer payloads are split into fragments, the
 *     first of type REQUEST, the rest CONTINUATION, each repeating seq, msg_id and the count;
 *   - a reply's payload starts with le32 err_code; notifications may arrive at any time.
 *
 * The request layouts and the lend / share / append logic follow the Linux driver of the seeds
 * (drivers/virt/gunyah/rsc_mgr_rpc.c, v13: gh_rm_mem_share_req_header, the ACL section with a
 * le32 count, the memory section with le16 count and padding, a zero attribute word;
 * gh_rm_mem_lend_common / gh_rm_mem_append with GH_RM_MAX_MEM_ENTRIES = 512; a failed append
 * reclaims the parcel).
 *
 * Usage:
 *   rm-client SOCKET lend-share N      allocate a VM, lend it N pages and share N more with it
 *   rm-client SOCKET reclaim H...      reclaim each handle
 *
 * Output: one line per call, e.g. "MEM_LEND: 1000 entries in 2 messages (512 + 488): handle=0".
 * Exit status: 0 if every call succeeded, 1 if the RM refused one, 2 on a usage or I/O error.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

typedef uint8_t u8;
typedef uint16_t __le16;
typedef uint32_t __le32;
typedef uint64_t __le64;

#define GH_RM_RPC_MEM_LEND 0x51000012u
#define GH_RM_RPC_MEM_SHARE 0x51000013u
#define GH_RM_RPC_MEM_RECLAIM 0x51000015u
#define GH_RM_RPC_MEM_APPEND 0x51000018u
#define GH_RM_RPC_VM_ALLOC_VMID 0x56000001u

#define GH_RM_TYPE_CONTINUATION 0
#define GH_RM_TYPE_REQUEST 1
#define GH_RM_TYPE_REPLY 2
#define GH_RM_TYPE_NOTIF 3

#define GH_MSGQ_MAX_MSG_SIZE 240
#define GH_RM_HDR_SIZE 8
#define GH_RM_PAYLOAD_SIZE (GH_MSGQ_MAX_MSG_SIZE - GH_RM_HDR_SIZE)
#define GH_RM_MAX_NUM_FRAGMENTS 62
#define GH_RM_MAX_MEM_ENTRIES 512
#define GH_MEM_HANDLE_INVAL 0xffffffffu

#define GH_MEM_SHARE_REQ_FLAGS_APPEND (1u << 1)
#define GH_MEM_APPEND_REQ_FLAGS_END (1u << 0)

#define GH_RM_ACL_X (1u << 0)
#define GH_RM_ACL_W (1u << 1)
#define GH_RM_ACL_R (1u << 2)

struct gh_rm_mem_acl_entry {
	__le16 vmid;
	u8 perms;
	u8 reserved;
} __attribute__((packed));

struct gh_rm_mem_entry {
	__le64 phys_addr;
	__le64 size;
} __attribute__((packed));

struct gh_rm_mem_share_req_header {
	u8 mem_type;
	u8 _padding0;
	u8 flags;
	u8 _padding1;
	__le32 label;
} __attribute__((packed));

struct gh_rm_mem_share_req_acl_section {
	__le32 n_entries;
	struct gh_rm_mem_acl_entry entries[];
};

struct gh_rm_mem_share_req_mem_section {
	__le16 n_entries;
	__le16 _padding;
	struct gh_rm_mem_entry entries[];
};

struct gh_rm_mem_release_req {
	__le32 mem_handle;
	u8 flags;
	u8 _padding0;
	__le16 _padding1;
} __attribute__((packed));

struct gh_rm_mem_append_req_header {
	__le32 mem_handle;
	u8 flags;
	u8 _padding0;
	__le16 _padding1;
} __attribute__((packed));

struct gh_rm_vm_common_vmid_req {
	__le16 vmid;
	__le16 _padding;
} __attribute__((packed));

struct gh_rm_mem_parcel {
	u8 mem_type;
	uint32_t label;
	size_t n_acl_entries;
	struct gh_rm_mem_acl_entry *acl_entries;
	size_t n_mem_entries;
	struct gh_rm_mem_entry *mem_entries;
	uint32_t mem_handle;
};

static int rm_fd = -1;
static uint16_t next_seq;
static unsigned notifications;
static unsigned messages_sent;

/* The struct fields are written as they are: this client runs on little-endian machines. */
static int little_endian(void)
{
	const uint16_t one = 1;
	return *(const u8 *)&one == 1;
}

static void put_le32(u8 *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = v >> 24;
}

static uint32_t get_le32(const u8 *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int write_all(const u8 *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(rm_fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int read_all(u8 *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = read(rm_fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One message-queue message, framed by its le32 byte count. */
static int msgq_send(const u8 *msg, size_t len)
{
	u8 frame[4 + GH_MSGQ_MAX_MSG_SIZE];
	put_le32(frame, (uint32_t)len);
	memcpy(frame + 4, msg, len);
	return write_all(frame, 4 + len);
}

static int msgq_recv(u8 *msg, size_t *len)
{
	u8 count[4];
	uint32_t n;
	if (read_all(count, 4))
		return -EIO;
	n = get_le32(count);
	if (n < GH_RM_HDR_SIZE || n > GH_MSGQ_MAX_MSG_SIZE)
		return -EBADMSG;
	*len = n;
	return read_all(msg, n);
}

static void write_header(u8 *h, unsigned type, unsigned fragments, uint16_t seq, uint32_t msg_id)
{
	h[0] = 0x21; /* api_version 1, header_words 2 */
	h[1] = (u8)((fragments << 2) | type);
	h[2] = seq & 0xff;
	h[3] = seq >> 8;
	put_le32(h + 4, msg_id);
}

/* gh_rm_send_request: split the payload into fragments of 232 bytes. */
static int send_request(uint32_t msg_id, uint16_t seq, const void *req, size_t len)
{
	size_t n_frag = len == 0 ? 1 : (len + GH_RM_PAYLOAD_SIZE - 1) / GH_RM_PAYLOAD_SIZE;
	const u8 *p = req;
	size_t i;
	if (n_frag - 1 > GH_RM_MAX_NUM_FRAGMENTS)
		return -E2BIG;
	for (i = 0; i < n_frag; i++) {
		u8 msg[GH_MSGQ_MAX_MSG_SIZE];
		size_t chunk = len - i * GH_RM_PAYLOAD_SIZE;
		if (chunk > GH_RM_PAYLOAD_SIZE)
			chunk = GH_RM_PAYLOAD_SIZE;
		write_header(msg, i == 0 ? GH_RM_TYPE_REQUEST : GH_RM_TYPE_CONTINUATION,
			     (unsigned)(n_frag - 1), seq, msg_id);
		if (len > 0)
			memcpy(msg + GH_RM_HDR_SIZE, p + i * GH_RM_PAYLOAD_SIZE, chunk);
		if (msgq_send(msg, GH_RM_HDR_SIZE + (len > 0 ? chunk : 0)))
			return -EIO;
		messages_sent++;
	}
	return 0;
}

/* The Linux driver's gh_rm_error_remap. */
static int rm_errno(uint32_t err)
{
	switch (err) {
	case 0x0: return 0;
	case 0xffffffffu: return -EOPNOTSUPP;
	case 0x1: return -ENOMEM;
	case 0x2: return -ENODEV;
	case 0x3: return -EPERM;
	case 0x5: return -EBUSY;
	case 0x4: case 0x6: case 0x7: case 0x8: case 0x9: case 0xa: case 0xb:
	case 0xc: case 0xd: case 0xe: case 0xf: case 0x10: case 0x11:
		return -EINVAL;
	default: return -EBADMSG;
	}
}

static uint32_t last_rm_error;

/*
 * gh_rm_call: send a request, wait for the reply with its seq and msg_id (notifications and
 * stray replies that arrive meanwhile are skipped). On success *resp holds the data after
 * the error word (malloc'd; the caller frees it).
 */
static int gh_rm_call(uint32_t msg_id, const void *req, size_t req_len, u8 **resp, size_t *resp_len)
{
	static u8 payload[(GH_RM_MAX_NUM_FRAGMENTS + 1) * GH_RM_PAYLOAD_SIZE];
	uint16_t seq = next_seq++;
	int ret = send_request(msg_id, seq, req, req_len);
	if (ret)
		return ret;
	for (;;) {
		u8 msg[GH_MSGQ_MAX_MSG_SIZE];
		size_t len, have;
		unsigned type, more, got = 0;
		if (msgq_recv(msg, &len))
			return -EIO;
		type = msg[1] & 3;
		more = msg[1] >> 2;
		if (type == GH_RM_TYPE_CONTINUATION)
			continue; /* nothing pending */
		have = len - GH_RM_HDR_SIZE;
		memcpy(payload, msg + GH_RM_HDR_SIZE, have);
		while (got < more) {
			if (msgq_recv(msg, &len))
				return -EIO;
			if ((msg[1] & 3) != GH_RM_TYPE_CONTINUATION)
				return -EBADMSG;
			memcpy(payload + have, msg + GH_RM_HDR_SIZE, len - GH_RM_HDR_SIZE);
			have += len - GH_RM_HDR_SIZE;
			got++;
		}
		if (type == GH_RM_TYPE_NOTIF) {
			notifications++;
			continue;
		}
		if (type != GH_RM_TYPE_REPLY)
			continue;
		if ((uint16_t)(msg[2] | msg[3] << 8) != seq || get_le32(msg + 4) != msg_id)
			continue; /* not ours */
		if (have < 4)
			return -EBADMSG;
		last_rm_error = get_le32(payload);
		if (last_rm_error != 0)
			return rm_errno(last_rm_error);
		if (resp) {
			*resp_len = have - 4;
			*resp = malloc(have - 4 + 1);
			if (!*resp)
				return -ENOMEM;
			memcpy(*resp, payload + 4, have - 4);
		}
		return 0;
	}
}

static int gh_rm_mem_reclaim(struct gh_rm_mem_parcel *p)
{
	struct gh_rm_mem_release_req req = { .mem_handle = p->mem_handle };
	return gh_rm_call(GH_RM_RPC_MEM_RECLAIM, &req, sizeof(req), NULL, NULL);
}

static int _gh_rm_mem_append(uint32_t mem_handle, int end_append, struct gh_rm_mem_entry *mem_entries,
			     size_t n_mem_entries)
{
	struct gh_rm_mem_share_req_mem_section *mem_section;
	struct gh_rm_mem_append_req_header *req_header;
	size_t msg_size = sizeof(*req_header) + sizeof(*mem_section) + sizeof(*mem_entries) * n_mem_entries;
	u8 *msg = calloc(1, msg_size);
	int ret;
	if (!msg)
		return -ENOMEM;
	req_header = (void *)msg;
	mem_section = (void *)(msg + sizeof(*req_header));
	req_header->mem_handle = mem_handle;
	if (end_append)
		req_header->flags |= GH_MEM_APPEND_REQ_FLAGS_END;
	mem_section->n_entries = (__le16)n_mem_entries;
	memcpy(mem_section->entries, mem_entries, sizeof(*mem_entries) * n_mem_entries);
	ret = gh_rm_call(GH_RM_RPC_MEM_APPEND, msg, msg_size, NULL, NULL);
	free(msg);
	return ret;
}

static int gh_rm_mem_append(uint32_t mem_handle, struct gh_rm_mem_entry *mem_entries, size_t n_mem_entries,
			    unsigned *calls)
{
	int ret = 0;
	while (n_mem_entries) {
		size_t n = n_mem_entries > GH_RM_MAX_MEM_ENTRIES ? GH_RM_MAX_MEM_ENTRIES : n_mem_entries;
		ret = _gh_rm_mem_append(mem_handle, n == n_mem_entries, mem_entries, n);
		if (ret)
			break;
		(*calls)++;
		mem_entries += n;
		n_mem_entries -= n;
	}
	return ret;
}

/* gh_rm_mem_lend_common: create with the first 512 entries (APPEND if more), then append. */
static int gh_rm_mem_lend_common(uint32_t message_id, struct gh_rm_mem_parcel *p, unsigned *calls)
{
	size_t initial = p->n_mem_entries, acl_size, mem_size, msg_size = 0, resp_size = 0;
	struct gh_rm_mem_share_req_acl_section *acl_section;
	struct gh_rm_mem_share_req_mem_section *mem_section;
	struct gh_rm_mem_share_req_header *req_header;
	u8 *msg, *resp = NULL;
	uint32_t *attr_section;
	int ret;

	if (!p->n_acl_entries || !p->n_mem_entries || p->n_acl_entries > 255 || p->mem_handle != GH_MEM_HANDLE_INVAL)
		return -EINVAL;
	if (initial > GH_RM_MAX_MEM_ENTRIES)
		initial = GH_RM_MAX_MEM_ENTRIES;
	acl_size = sizeof(*acl_section) + sizeof(struct gh_rm_mem_acl_entry) * p->n_acl_entries;
	mem_size = sizeof(*mem_section) + sizeof(struct gh_rm_mem_entry) * initial;
	msg_size = sizeof(*req_header) + acl_size + mem_size + sizeof(uint32_t);
	msg = calloc(1, msg_size);
	if (!msg)
		return -ENOMEM;
	req_header = (void *)msg;
	acl_section = (void *)(msg + sizeof(*req_header));
	mem_section = (void *)((u8 *)acl_section + acl_size);
	attr_section = (void *)((u8 *)mem_section + mem_size);

	req_header->mem_type = p->mem_type;
	if (initial != p->n_mem_entries)
		req_header->flags |= GH_MEM_SHARE_REQ_FLAGS_APPEND;
	req_header->label = p->label;
	acl_section->n_entries = (__le32)p->n_acl_entries;
	memcpy(acl_section->entries, p->acl_entries, sizeof(*p->acl_entries) * p->n_acl_entries);
	mem_section->n_entries = (__le16)initial;
	memcpy(mem_section->entries, p->mem_entries, sizeof(*p->mem_entries) * initial);
	*attr_section = 0;

	ret = gh_rm_call(message_id, msg, msg_size, &resp, &resp_size);
	free(msg);
	if (ret)
		return ret;
	*calls = 1;
	if (resp_size < 4) {
		free(resp);
		return -EBADMSG;
	}
	p->mem_handle = get_le32(resp);
	free(resp);
	if (initial != p->n_mem_entries) {
		ret = gh_rm_mem_append(p->mem_handle, &p->mem_entries[initial], p->n_mem_entries - initial, calls);
		if (ret) {
			gh_rm_mem_reclaim(p);
			p->mem_handle = GH_MEM_HANDLE_INVAL;
		}
	}
	return ret;
}

static int gh_rm_alloc_vmid(uint16_t vmid, uint16_t *out)
{
	struct gh_rm_vm_common_vmid_req req = { .vmid = vmid };
	u8 *resp = NULL;
	size_t resp_size = 0;
	int ret = gh_rm_call(GH_RM_RPC_VM_ALLOC_VMID, &req, sizeof(req), &resp, &resp_size);
	if (ret)
		return ret;
	if (resp_size < 4) {
		free(resp);
		return -EBADMSG;
	}
	*out = (uint16_t)get_le32(resp);
	free(resp);
	return 0;
}

static void report(const char *what, int ret)
{
	if (ret)
		printf("%s: error 0x%x (errno %d)\n", what, (unsigned)last_rm_error, ret);
}

/* Lend (or share) n pages, every other 4 KiB page from base. */
static int lend_pages(const char *name, uint32_t msg_id, struct gh_rm_mem_acl_entry *acl, size_t n_acl,
		      uint64_t base, size_t n, uint32_t label, uint32_t *handle)
{
	struct gh_rm_mem_entry *mem = calloc(n, sizeof(*mem));
	struct gh_rm_mem_parcel p = { .mem_type = 0, .label = label, .n_acl_entries = n_acl,
				      .acl_entries = acl, .n_mem_entries = n, .mem_entries = mem,
				      .mem_handle = GH_MEM_HANDLE_INVAL };
	unsigned calls = 0;
	size_t i;
	int ret;
	if (!mem)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		mem[i].phys_addr = base + i * 0x2000;
		mem[i].size = 0x1000;
	}
	ret = gh_rm_mem_lend_common(msg_id, &p, &calls);
	free(mem);
	if (ret) {
		report(name, ret);
		return ret;
	}
	printf("%s: %zu entries in %u messages (%zu + %zu): handle=%u\n", name, n, calls,
	       n < GH_RM_MAX_MEM_ENTRIES ? n : (size_t)GH_RM_MAX_MEM_ENTRIES,
	       n < GH_RM_MAX_MEM_ENTRIES ? 0 : n - GH_RM_MAX_MEM_ENTRIES, (unsigned)p.mem_handle);
	*handle = p.mem_handle;
	return 0;
}

static int connect_rm(const char *path)
{
	struct sockaddr_un addr;
	memset(&addr, 0, sizeof(addr));
	addr.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "rm-client: socket path too long: %s\n", path);
		return -1;
	}
	strcpy(addr.sun_path, path);
	rm_fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (rm_fd < 0 || connect(rm_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		fprintf(stderr, "rm-client: cannot connect to %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int failed = 0, i;
	if (!little_endian() || argc < 3) {
		fprintf(stderr, "usage: rm-client SOCKET lend-share N | reclaim HANDLE...\n");
		return 2;
	}
	if (connect_rm(argv[1]))
		return 2;
	if (strcmp(argv[2], "lend-share") == 0 && argc == 4) {
		size_t n = (size_t)strtoul(argv[3], NULL, 0);
		uint16_t vmid = 0;
		uint32_t lend = 0, share = 0;
		int ret = gh_rm_alloc_vmid(0, &vmid);
		if (ret) {
			report("VM_ALLOCATE", ret);
			return 1;
		}
		printf("VM_ALLOCATE: vmid=%u\n", vmid);
		{
			struct gh_rm_mem_acl_entry lend_acl[] = { { vmid, GH_RM_ACL_R | GH_RM_ACL_W | GH_RM_ACL_X, 0 } };
			struct gh_rm_mem_acl_entry share_acl[] = { { vmid, GH_RM_ACL_R | GH_RM_ACL_W, 0 },
								   { 3, GH_RM_ACL_R | GH_RM_ACL_W | GH_RM_ACL_X, 0 } };
			failed |= lend_pages("MEM_LEND", GH_RM_RPC_MEM_LEND, lend_acl, 1, 0x80000000u, n, 1, &lend) != 0;
			failed |= lend_pages("MEM_SHARE", GH_RM_RPC_MEM_SHARE, share_acl, 2, 0x90000000u, n, 2, &share) != 0;
		}
	} else if (strcmp(argv[2], "reclaim") == 0) {
		for (i = 3; i < argc; i++) {
			struct gh_rm_mem_parcel p = { .mem_handle = (uint32_t)strtoul(argv[i], NULL, 0) };
			char what[64];
			int ret = gh_rm_mem_reclaim(&p);
			snprintf(what, sizeof(what), "MEM_RECLAIM handle=%u", (unsigned)p.mem_handle);
			if (ret)
				report(what, ret);
			else
				printf("%s: ok\n", what);
			failed |= ret != 0;
		}
	} else {
		fprintf(stderr, "usage: rm-client SOCKET lend-share N | reclaim HANDLE...\n");
		return 2;
	}
	printf("messages sent: %u, notifications received: %u\n", messages_sent, notifications);
	close(rm_fd);
	return failed ? 1 : 0;
}
