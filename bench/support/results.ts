/** Where every benchmark writes its figures: bench/results/<file> (JSON pretty-printed, other text as given). */
import { mkdirSync, writeFileSync } from 'node:fs';

const RESULTS = new URL('../results/', import.meta.url);

/** Writes `content` (an object as JSON) to bench/results/`file`. */
export function writeBenchResult(file: string, content: unknown): void {
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(new URL(file, RESULTS), typeof content === 'string' ? content : `${JSON.stringify(content, null, 2)}\n`);
}
