import Table from "cli-table3";
import { describe, expect, it } from "vitest";

import { painter } from "./human.js";
import { cut, fitText, renderTable, widthOf, words, wrap } from "./text-table.js";

const plain = painter(false);

/** Every line of `text` fits `width` columns. */
function fits(text: string, width: number): boolean {
  return text.split("\n").every((l) => widthOf(l) <= width);
}

describe("words", () => {
  it("keeps a number with its unit, and breaks inside names and ranges", () => {
    expect(words("alloc 16 KiB from system")).toEqual(["alloc ", "16 KiB ", "from ", "system"]);
    expect(words("1 MiB + 4 KiB")).toEqual(["1 MiB ", "+ 4 KiB"]);
    expect(words("0x80000000+16 KiB")).toEqual(["0x80000000+16 KiB"]);
    expect(words("0x80000000-0x8000ffff")).toEqual(["0x80000000-", "0x8000ffff"]);
    expect(words("vcm.reserve_from_bound")).toEqual(["vcm.", "reserve_", "from_", "bound"]);
    // A count before a word that only starts like a unit is not glued.
    expect(words("3 Bytes")).toEqual(["3 ", "Bytes"]);
  });
});

describe("wrap", () => {
  it("fills lines greedily at words and never splits a size", () => {
    expect(wrap("freed #14999 (16 KiB) to system", 14)).toEqual([
      "freed #14999",
      "(16 KiB) to",
      "system",
    ]);
    expect(wrap("a 63 MiB + 960 KiB block", 12)).toEqual(["a 63 MiB", "+ 960 KiB", "block"]);
  });

  it("cuts a word wider than the line with …, or splits it when asked", () => {
    expect(wrap("liveAllocations", 8)).toEqual(["liveAll…"]);
    expect(wrap("liveAllocations", 8, true)).toEqual(["liveAllo", "cations"]);
    expect(cut("abc", 3)).toBe("abc");
    expect(cut("abcd", 3)).toBe("ab…");
  });

  it("keeps the text's own line breaks", () => {
    expect(wrap("one\ntwo three", 5)).toEqual(["one", "two", "three"]);
  });

  it("fitText indents the lines after the first", () => {
    expect(fitText("Events: 4 (phys.alloc 2, phys.free 2)", 20, 2)).toBe(
      "Events: 4 (phys.\n  alloc 2, phys.free\n  2)",
    );
    expect(fitText("short", 20, 2)).toBe("short");
    expect(fitText("x ".repeat(50), Infinity)).toBe("x ".repeat(50));
  });
});

describe("renderTable", () => {
  const head = ["region", "range", "size", "kind"];
  const rows = [
    ["uart", "0x9000000-0x9000fff", "4 KiB", "io"],
    ["dram", "0x80000000-0xbfffffff", "1 GiB", "ram"],
    ["two\nlines", "-", "1 MiB + 4 KiB", "ram"],
  ];

  it("at its natural width is cli-table3's compact table, character for character", () => {
    const t = new Table({ head, style: { head: [], border: [], compact: true } });
    for (const r of rows) t.push([...r]);
    expect(renderTable(head, rows, plain, Infinity)).toBe(t.toString());
    expect(renderTable(head, rows, plain, 200)).toBe(t.toString());
  });

  it("narrows and wraps columns to fit, sizes and addresses whole, long names cut", () => {
    const named = [...rows, ["mmio", "-", "4 KiB", "interconnect"]];
    const text = renderTable(head, named, plain, 45);
    expect(fits(text, 45)).toBe(true);
    expect(text).toContain("│ interco… │");
    expect(text).toContain("│ 1 MiB   │");
    expect(text).toContain("│ + 4 KiB │");
    expect(text).toContain("0x80000000-");
    expect(text).not.toMatch(/│ (?:KiB|MiB|GiB) /);
    expect(text.split("\n")[1]).toMatch(/^│ region │ range +│ size +│ kind +│$/);
  });

  it("styles cells line by line, and measures them without the styles", () => {
    const paint = painter(true);
    const text = renderTable(["a", "b"], [["x", { text: "FAILED: no", style: "red" }]], paint, 80);
    // eslint-disable-next-line no-control-regex
    const stripped = text.replace(/\u001b\[[0-9;]*m/g, "");
    expect(stripped).toBe(renderTable(["a", "b"], [["x", "FAILED: no"]], plain, 80));
    expect(text).toContain(paint("red", "FAILED: no"));
  });

  it("turns rows into records when the columns cannot fit", () => {
    const wide = ["target", "allocator", "total", "free", "largest free", "live", "allocs"];
    const text = renderTable(
      wide,
      [["system", "buddy", "64 MiB", "63 MiB + 960 KiB", "32 MiB", "1", "15000"]],
      plain,
      40,
    );
    expect(fits(text, 40)).toBe(true);
    expect(text.split("\n")).toEqual([
      "target system",
      "  allocator     buddy",
      "  total         64 MiB",
      "  free          63 MiB + 960 KiB",
      "  largest free  32 MiB",
      "  live          1",
      "  allocs        15000",
    ]);
  });

  it("renders many rows in one pass: 20,000 rows, every one present", () => {
    const many = Array.from({ length: 20_000 }, (_, i) => [String(i), `alloc ${i % 64} KiB`]);
    const text = renderTable(["#", "description"], many, plain, 60);
    const lines = text.split("\n");
    expect(lines.length).toBe(20_000 + 4);
    expect(lines[3 + 12_345]).toBe("│ 12345 │ alloc 57 KiB │");
  });
});
