/**
 * Mapping permissions and memory attributes, in Linux's IOMMU vocabulary (include/linux/iommu.h
 * `IOMMU_READ` ... `IOMMU_PRIV`), which io-pgtable turns into descriptor bits.
 *
 * `prot` is what callers ask for when they map; {@link LeafAttributes} is what a descriptor
 * says, decoded, format-neutral. {@link PERM} is a compact bitmask of the checks an access needs,
 * cached in TLB entries.
 */
import { fail } from "../base/errors.js";

/** Linux `IOMMU_*` prot flags. */
export const PROT = {
  READ: 1 << 0,
  WRITE: 1 << 1,
  /** Normal write-back cacheable memory (else normal non-cacheable). */
  CACHE: 1 << 2,
  NOEXEC: 1 << 3,
  /** Device memory (registers). */
  MMIO: 1 << 4,
  /** Privileged access only. */
  PRIV: 1 << 5,
  /**
   * Model extension, not in Linux: map with the access flag clear, so the first access takes an
   * access-flag fault (Linux always sets AF; hardware and hypervisors may not).
   */
  NO_AF: 1 << 8,
  /** Model extension: mark the mapping global (nG = 0; Linux io-pgtable always sets nG). */
  GLOBAL: 1 << 9,
} as const;

export type Prot = number;

const PROT_LETTERS: Record<string, number> = {
  r: PROT.READ,
  w: PROT.WRITE,
  x: 0,
  c: PROT.CACHE,
  m: PROT.MMIO,
  p: PROT.PRIV,
};

/**
 * Parse a prot string: letters `r` read, `w` write, `x` executable (absent: NOEXEC), `c`
 * cacheable, `m` MMIO (device memory), `p` privileged only; e.g. `"rw"`, `"rwxc"`, `"rm"`.
 */
export function parseProt(text: string): Prot {
  const problem = protProblem(text);
  if (problem !== undefined) fail("EINVAL", `prot "${text}": ${problem}`);
  let prot = 0;
  for (const ch of text.toLowerCase()) prot |= PROT_LETTERS[ch]!;
  if (!text.toLowerCase().includes("x")) prot |= PROT.NOEXEC;
  return prot;
}

/** What is wrong with a prot string, or undefined if {@link parseProt} accepts it. */
export function protProblem(text: string): string | undefined {
  let mmio = false;
  let cache = false;
  for (const ch of text.toLowerCase()) {
    if (PROT_LETTERS[ch] === undefined) return `unknown letter "${ch}" (use r w x c m p)`;
    if (ch === "m") mmio = true;
    if (ch === "c") cache = true;
  }
  if (mmio && cache) return "MMIO and cacheable exclude each other";
  return undefined;
}

/** The inverse of {@link parseProt}, for dumps: e.g. `"rw-c"`. */
export function formatProt(prot: Prot): string {
  return (
    (prot & PROT.READ ? "r" : "-") +
    (prot & PROT.WRITE ? "w" : "-") +
    (prot & PROT.NOEXEC ? "-" : "x") +
    (prot & PROT.MMIO ? "m" : prot & PROT.CACHE ? "c" : "") +
    (prot & PROT.PRIV ? "p" : "")
  );
}

/** Memory types a descriptor can give. */
export type MemType = "normal-wb" | "normal-nc" | "device";
export type Shareability = "non" | "outer" | "inner";

/**
 * A leaf descriptor's attributes, decoded and format-neutral. Fields a format cannot express
 * take the value the architecture implies (e.g. ARMv7 short descriptors have no separate
 * privileged-execute-never; stage 2 has no unprivileged distinction, so `user` is true).
 */
export interface LeafAttributes {
  /** Readable (stage 1: always, for the privilege levels allowed; stage 2: S2AP[0]). */
  read: boolean;
  write: boolean;
  /** Executable by unprivileged accesses (not UXN / XN). */
  userExec: boolean;
  /** Executable by privileged accesses (not PXN / XN). */
  privExec: boolean;
  /** Unprivileged (EL0 / user) accesses allowed (stage 1 AP[1]; v7s AP1). */
  user: boolean;
  memType: MemType;
  shareability: Shareability;
  /** Access flag: clear means the first access faults. */
  accessFlag: boolean;
  /** Not global: tagged with the ASID in TLBs. */
  notGlobal: boolean;
  /** Non-secure output. */
  ns: boolean;
}

/**
 * A compact permission mask of a leaf, cached in TLB entries, so an access check is one AND.
 * Bits say what is allowed.
 */
export const PERM = {
  READ_PRIV: 1 << 0,
  WRITE_PRIV: 1 << 1,
  EXEC_PRIV: 1 << 2,
  READ_USER: 1 << 3,
  WRITE_USER: 1 << 4,
  EXEC_USER: 1 << 5,
  /** Access flag set: without it any access takes an access-flag fault. */
  AF: 1 << 6,
  /** Global mapping (matches every ASID). */
  GLOBAL: 1 << 7,
} as const;

/** The mask of {@link LeafAttributes}. */
export function permOf(a: LeafAttributes): number {
  let p = 0;
  if (a.read) p |= PERM.READ_PRIV;
  if (a.write) p |= PERM.WRITE_PRIV;
  if (a.privExec) p |= PERM.EXEC_PRIV;
  if (a.user && a.read) p |= PERM.READ_USER;
  if (a.user && a.write) p |= PERM.WRITE_USER;
  if (a.userExec && (a.user || a.read)) p |= PERM.EXEC_USER;
  if (a.accessFlag) p |= PERM.AF;
  if (!a.notGlobal) p |= PERM.GLOBAL;
  return p;
}

/** An access: what it does and at which privilege. */
export interface Access {
  kind: "read" | "write" | "exec";
  privileged: boolean;
}

/** The PERM bit an access needs. */
export function permNeeded(access: Access): number {
  if (access.privileged)
    return access.kind === "read"
      ? PERM.READ_PRIV
      : access.kind === "write"
        ? PERM.WRITE_PRIV
        : PERM.EXEC_PRIV;
  return access.kind === "read"
    ? PERM.READ_USER
    : access.kind === "write"
      ? PERM.WRITE_USER
      : PERM.EXEC_USER;
}

/** For dumps: `"rw- user nG AF normal-wb inner"`. */
export function formatAttributes(a: LeafAttributes): string {
  const perms = `${a.read ? "r" : "-"}${a.write ? "w" : "-"}${a.privExec || a.userExec ? "x" : "-"}`;
  const parts = [perms, a.user ? "user" : "priv"];
  if (a.privExec !== a.userExec) parts.push(a.privExec ? "PXN=0,UXN=1" : "PXN=1,UXN=0");
  parts.push(a.notGlobal ? "nG" : "G", a.accessFlag ? "AF" : "noAF", a.memType, a.shareability);
  if (a.ns) parts.push("NS");
  return parts.join(" ");
}
