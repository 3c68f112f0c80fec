/*
 * The native reference of memweave's translation benchmarks (W1-W4): the same work, done the
 * way a plain C implementation would, on the same machine, so that `npm run bench` can report
 * memweave's figure as a ratio to native measured in the same run.
 *
 * What is the same as in memweave's benchmarks (src/mmu/translate.bench.ts):
 * - simulated physical memory is flat (one array, physical base 0x8000_0000); page tables are
 *   real AArch64 stage-1 descriptors (4K granule, 48-bit, 4 levels: the bits memweave's
 *   lpae.ts writes for PROT.READ|PROT.WRITE: 0xe43 | OA, tables OA | 3) held in it;
 * - the TLB is set-associative (4 ways x 256 sets, LRU by a 32-bit clock, tagged by ASID and
 *   VMID, an entry holding the page number, output base, permission and tags);
 * - every input is drawn afresh per operation from the same xorshift32 generator with the same
 *   seed and the same bit slicing, so both sides do exactly the same operations;
 * - W1 512 resident translations, W2 walks among 65,536 random pages of a 1 GiB window, W3
 *   262,144 contiguous 4K maps (only the map calls timed), W4 8-byte reads (90% to 256 hot
 *   pages, 10% over 16,384 written pages) through the TLB, walking on a miss.
 *
 * Usage: translate W1|W2|W3|W4 [ops]. Prints one JSON line: the workload, ns per operation of
 * the timed loop, a checksum, and the workload's own counts (misses, walks, tables), which the
 * caller compares with memweave's.
 *
 * Build: cc -O2 -o translate translate.c (npm run bench does it).
 */
#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PHYS_BASE 0x80000000ull
#define MEM_BYTES (96ull << 20)
#define TABLE_POOL (16ull << 20) /* the first 16 MiB hold page tables */
#define PAGE 4096ull
#define OA_MASK 0x0000fffffffff000ull
#define LEAF_RW 0xe43ull /* valid|page, AP[1] (EL0 too), SH outer, AF, nG: lpae.ts for READ|WRITE */
#define TABLE_BITS 3ull
#define PTE_AF (1ull << 10)
#define PTE_AP_RDONLY (1ull << 7)

static uint8_t *mem;

static inline uint64_t rd64(uint64_t pa) {
  uint64_t v;
  memcpy(&v, mem + (pa - PHYS_BASE), 8);
  return v;
}
static inline void wr64(uint64_t pa, uint64_t v) { memcpy(mem + (pa - PHYS_BASE), &v, 8); }

/* xorshift32, as memweave's benchmark draws its inputs. */
static uint32_t rng_state;
static inline uint32_t next(void) {
  uint32_t x = rng_state;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return rng_state = x;
}

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t); /* as memweave's side: CPU time */
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* --- table memory: 4 KiB pages from a free list, zeroed on allocation --------------------- */
static uint32_t free_list[TABLE_POOL / PAGE];
static uint32_t free_count;
static uint32_t tables_live;

static void tables_init(void) {
  free_count = 0;
  for (uint32_t i = (uint32_t)(TABLE_POOL / PAGE); i-- > 0;) free_list[free_count++] = i;
  tables_live = 0;
}
static uint64_t table_alloc(void) {
  if (free_count == 0) {
    fprintf(stderr, "out of table memory\n");
    exit(1);
  }
  uint64_t pa = PHYS_BASE + (uint64_t)free_list[--free_count] * PAGE;
  memset(mem + (pa - PHYS_BASE), 0, PAGE);
  tables_live++;
  return pa;
}
static void table_free(uint64_t pa) {
  free_list[free_count++] = (uint32_t)((pa - PHYS_BASE) / PAGE);
  tables_live--;
}
/* Free a table and every table below it (level 0..2 tables hold table descriptors). */
static void table_destroy(uint64_t table, int level) {
  if (level < 3)
    for (int i = 0; i < 512; i++) {
      uint64_t d = rd64(table + (uint64_t)i * 8);
      if ((d & 3) == 3) table_destroy(d & OA_MASK, level + 1);
    }
  table_free(table);
}

/* --- map one 4K page (io-pgtable's __arm_lpae_map for one page) ---------------------------- */
#define EEXIST 17
#define EINVAL 22
static uint64_t leaves;
static int map_page(uint64_t root, uint64_t va, uint64_t pa) {
  if ((va | pa) & (PAGE - 1) || va >> 48 || pa >> 48) return -EINVAL;
  uint64_t table = root;
  for (int level = 0; level < 3; level++) {
    uint64_t at = table + ((va >> (39 - 9 * level)) & 511) * 8;
    uint64_t d = rd64(at);
    if ((d & 1) == 0) {
      uint64_t t = table_alloc();
      wr64(at, t | TABLE_BITS);
      table = t;
    } else if ((d & 2) == 0) {
      return -EEXIST; /* a block is mapped here */
    } else {
      table = d & OA_MASK;
    }
  }
  uint64_t at = table + ((va >> 12) & 511) * 8;
  if (rd64(at) & 1) return -EEXIST;
  wr64(at, pa | LEAF_RW);
  leaves++;
  return 0;
}

/* --- the walk (iova_to_phys), with the permission the leaf grants -------------------------- */
#define PERM_READ 1u
#define PERM_WRITE 2u
#define PERM_AF 4u
static uint64_t walks, reads;
/* Returns the output address, or ~0 on a translation fault; *perm the leaf's rights. */
static inline uint64_t walk(uint64_t root, uint64_t va, uint32_t *perm) {
  walks++;
  if (va >> 48) return ~0ull;
  uint64_t table = root;
  for (int level = 0; level < 4; level++) {
    uint64_t d = rd64(table + ((va >> (39 - 9 * level)) & 511) * 8);
    reads++;
    if ((d & 1) == 0) return ~0ull;
    int leaf = level == 3 ? (d & 2) != 0 : (d & 2) == 0;
    if (level == 3 && !leaf) return ~0ull;
    if (leaf) {
      uint64_t size = 1ull << (12 + 9 * (3 - level)); /* level 3: 4K, 2: 2M, 1: 1G */
      *perm = PERM_READ | ((d & PTE_AP_RDONLY) ? 0 : PERM_WRITE) | ((d & PTE_AF) ? PERM_AF : 0);
      return (d & OA_MASK & ~(size - 1)) + (va & (size - 1));
    }
    table = d & OA_MASK;
  }
  return ~0ull;
}

/* --- the TLB: 4 ways x 256 sets, LRU, tagged by ASID and VMID ------------------------------ */
#define SETS 256
#define WAYS 4
static uint64_t tlb_vpn[SETS * WAYS];
static uint64_t tlb_pa[SETS * WAYS];
static uint32_t tlb_age[SETS * WAYS];
static uint16_t tlb_asid[SETS * WAYS], tlb_vmid[SETS * WAYS];
static uint8_t tlb_perm[SETS * WAYS], tlb_valid[SETS * WAYS];
static uint32_t tlb_clock;
static uint64_t tlb_lookups, tlb_hits, tlb_misses;

static void tlb_reset(void) {
  memset(tlb_valid, 0, sizeof tlb_valid);
  tlb_clock = 0;
  tlb_lookups = tlb_hits = tlb_misses = 0;
}
/* The slot of va's entry, or -1. */
static inline int tlb_lookup(uint64_t va, uint16_t asid, uint16_t vmid) {
  tlb_lookups++;
  uint64_t vpn = va >> 12;
  int base = (int)(vpn & (SETS - 1)) * WAYS;
  for (int s = base; s < base + WAYS; s++)
    if (tlb_valid[s] && tlb_vpn[s] == vpn && tlb_asid[s] == asid && tlb_vmid[s] == vmid) {
      tlb_hits++;
      tlb_age[s] = ++tlb_clock;
      return s;
    }
  tlb_misses++;
  return -1;
}
static inline void tlb_insert(uint64_t va, uint64_t pa, uint32_t perm, uint16_t asid,
                              uint16_t vmid) {
  uint64_t vpn = va >> 12;
  int base = (int)(vpn & (SETS - 1)) * WAYS;
  int victim = base;
  for (int s = base; s < base + WAYS; s++) {
    if (!tlb_valid[s]) {
      victim = s;
      break;
    }
    if (tlb_age[s] < tlb_age[victim]) victim = s;
  }
  tlb_valid[victim] = 1;
  tlb_vpn[victim] = vpn;
  tlb_pa[victim] = pa & ~(PAGE - 1);
  tlb_perm[victim] = (uint8_t)perm;
  tlb_asid[victim] = asid;
  tlb_vmid[victim] = vmid;
  tlb_age[victim] = ++tlb_clock;
}

/* --- the workloads -------------------------------------------------------------------------- */
static void result(const char *w, double ns, uint64_t ops, uint64_t sum, const char *extra) {
  printf("{\"workload\":\"%s\",\"nsPerOp\":%.3f,\"ops\":%llu,\"checksum\":%llu%s}\n", w, ns / ops,
         (unsigned long long)ops, (unsigned long long)sum, extra);
}

static void w1(uint64_t ops) {
  tlb_reset();
  rng_state = 0x1u;
  uint64_t pages[512];
  uint8_t per_set[SETS] = {0};
  int n = 0;
  while (n < 512) {
    uint64_t hi = next() & 0xf; /* two draws, in this order (C leaves operand order open) */
    uint64_t vpn = (hi << 32) | next();
    int set = (int)(vpn & (SETS - 1)), dup = 0;
    for (int i = 0; i < n; i++) dup |= pages[i] == vpn << 12;
    if (dup || per_set[set] == WAYS) continue;
    per_set[set]++;
    pages[n++] = vpn << 12;
  }
  for (int i = 0; i < 512; i++)
    tlb_insert(pages[i], PHYS_BASE + (uint64_t)i * PAGE, PERM_READ | PERM_WRITE | PERM_AF, 7, 0);
  tlb_lookups = tlb_hits = tlb_misses = 0;
  uint64_t sum = 0;
  double t0 = now_ns();
  for (uint64_t i = 0; i < ops; i++) {
    uint32_t r = next();
    uint64_t va = pages[r & 511] + ((r >> 9) & 4095);
    int s = tlb_lookup(va, 7, 0);
    sum += s < 0 ? 0 : tlb_pa[s] + (va & (PAGE - 1));
  }
  double t1 = now_ns();
  char extra[96];
  snprintf(extra, sizeof extra, ",\"misses\":%llu", (unsigned long long)tlb_misses);
  result("W1", t1 - t0, ops, sum, extra);
}

static void w2(uint64_t ops) {
  tables_init();
  rng_state = 0x7u;
  uint64_t root = table_alloc();
  const uint64_t window = 0x7f0000000000ull;
  static uint8_t taken[262144];
  static uint32_t list[65536];
  memset(taken, 0, sizeof taken);
  int n = 0;
  while (n < 65536) {
    uint32_t p = next() & 262143;
    if (taken[p]) continue;
    taken[p] = 1;
    list[n++] = p;
  }
  for (int i = 0; i < n; i++)
    map_page(root, window + (uint64_t)list[i] * PAGE, 0x100000000ull + (uint64_t)list[i] * PAGE);
  walks = reads = 0;
  uint64_t sum = 0;
  uint32_t perm = 0; /* the walk decodes it; W2 does not check it */
  double t0 = now_ns();
  for (uint64_t i = 0; i < ops; i++) {
    uint32_t r = next();
    uint64_t va = window + (uint64_t)list[r & 65535] * PAGE + ((r >> 16) & 4095);
    sum += walk(root, va, &perm);
  }
  double t1 = now_ns();
  char extra[96];
  snprintf(extra, sizeof extra, ",\"walks\":%llu,\"reads\":%llu", (unsigned long long)walks,
           (unsigned long long)reads);
  result("W2", t1 - t0, ops, sum, extra);
}

static void w3(uint64_t ops) {
  tables_init();
  leaves = 0;
  uint64_t root = table_alloc();
  int failed = 0;
  double t0 = now_ns();
  for (uint64_t i = 0; i < ops; i++)
    failed |= map_page(root, 0x40000000ull + i * PAGE, 0x100000000ull + i * PAGE);
  double t1 = now_ns();
  uint32_t tables = tables_live;
  table_destroy(root, 0);
  char extra[96];
  snprintf(extra, sizeof extra, ",\"tables\":%u,\"leaves\":%llu,\"failed\":%d", tables,
           (unsigned long long)leaves, failed);
  result("W3", t1 - t0, ops, leaves, extra);
}

static void w4(uint64_t ops) {
  tables_init();
  tlb_reset();
  rng_state = 0xbu;
  uint64_t root = table_alloc();
  const uint64_t va0 = 0x4000000000ull;
  const uint64_t data = PHYS_BASE + TABLE_POOL;
  for (uint64_t i = 0; i < 16384; i++) {
    map_page(root, va0 + i * PAGE, data + i * PAGE);
    uint32_t v = (uint32_t)i;
    memcpy(mem + (data - PHYS_BASE) + i * PAGE, &v, 4); /* every data page written */
  }
  uint32_t hot[256];
  int n = 0;
  while (n < 256) {
    uint32_t p = next() & 16383, dup = 0;
    for (int i = 0; i < n; i++) dup |= hot[i] == p;
    if (!dup) hot[n++] = p;
  }
  walks = reads = 0;
  uint64_t sum = 0, faults = 0;
  double t0 = now_ns();
  for (uint64_t i = 0; i < ops; i++) {
    uint32_t page = next() < 3865470566u ? hot[next() & 255] : next() & 16383;
    uint64_t va = va0 + (uint64_t)page * PAGE + (uint64_t)(next() & 511) * 8;
    uint64_t pa;
    int s = tlb_lookup(va, 1, 0);
    if (s >= 0 && (tlb_perm[s] & (PERM_READ | PERM_AF)) == (PERM_READ | PERM_AF)) {
      pa = tlb_pa[s] + (va & (PAGE - 1));
    } else {
      uint32_t perm = 0;
      pa = walk(root, va, &perm);
      if (pa == ~0ull || (perm & (PERM_READ | PERM_AF)) != (PERM_READ | PERM_AF)) {
        faults++;
        continue;
      }
      tlb_insert(va, pa, perm, 1, 0);
    }
    uint64_t v;
    memcpy(&v, mem + (pa - PHYS_BASE), 8);
    sum += v;
  }
  double t1 = now_ns();
  char extra[128];
  snprintf(extra, sizeof extra, ",\"misses\":%llu,\"walks\":%llu,\"faults\":%llu",
           (unsigned long long)tlb_misses, (unsigned long long)walks, (unsigned long long)faults);
  result("W4", t1 - t0, ops, sum, extra);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: translate W1|W2|W3|W4 [ops]\n");
    return 2;
  }
  uint64_t ops = argc > 2 ? strtoull(argv[2], 0, 10) : 1000000;
  mem = calloc(1, MEM_BYTES);
  if (!mem) return 1;
  if (!strcmp(argv[1], "W1")) w1(ops);
  else if (!strcmp(argv[1], "W2")) w2(ops);
  else if (!strcmp(argv[1], "W3")) w3(ops);
  else if (!strcmp(argv[1], "W4")) w4(ops);
  else {
    fprintf(stderr, "unknown workload %s\n", argv[1]);
    return 2;
  }
  return 0;
}
