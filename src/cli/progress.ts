/**
 * The progress bar of a long run on stderr: `run: [########............] 42% 21000/50000 steps`.
 *
 * Only on a terminal (stderr a TTY), and only once the run has taken a second: a short run, a
 * pipe or a log file never sees it, so stdout and redirected stderr stay deterministic. Redrawn
 * at most every 100 ms of the clock, erased (`\r` and erase-line) when the run ends.
 */

/** The stream the bar is drawn on. */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface StepProgress {
  /** For `runScenario`'s `onStep`, or undefined when no bar will be drawn (not a terminal). */
  readonly onStep: ((done: number, total: number) => void) | undefined;
  /** Erases the bar if it was drawn. */
  done(): void;
}

/** A run shorter than this never shows the bar. */
export const PROGRESS_DELAY_MS = 1000;
/** The bar is redrawn at most this often. */
export const PROGRESS_INTERVAL_MS = 100;
const BAR = 20;

/**
 * A progress bar for the steps of a run on `stream`, labelled `label`; `now` is the clock in
 * milliseconds (tests give their own).
 */
export function stepProgress(
  stream: ProgressStream,
  label: string,
  now: () => number = () => performance.now(),
): StepProgress {
  if (stream.isTTY !== true) return { onStep: undefined, done: () => {} };
  const start = now();
  let last = -Infinity;
  let drawn = false;
  return {
    onStep: (done, total) => {
      const t = now();
      if (t - start < PROGRESS_DELAY_MS || (t - last < PROGRESS_INTERVAL_MS && done !== total))
        return;
      last = t;
      drawn = true;
      const frac = total > 0 ? done / total : 1;
      const fill = Math.round(frac * BAR);
      const text = `${label}: [${"#".repeat(fill)}${".".repeat(BAR - fill)}] ${String(Math.floor(frac * 100)).padStart(3)}% ${done}/${total} steps`;
      const room = stream.columns !== undefined && stream.columns > 1 ? stream.columns - 1 : 79;
      stream.write(`\r${text.slice(0, room)}`);
    },
    done: () => {
      if (drawn) stream.write("\r\u001b[K");
    },
  };
}
