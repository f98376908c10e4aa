/** Plain-text rendering helpers of the operator CLI: aligned tables, UTC times, truncation. No colours (output is often piped). */

/** Columns aligned on the widest cell; a header row in capitals. Cells must be single-line (see {@link oneLine}). */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!)))
      .join('  ')
      .trimEnd();
  return [line(headers.map((h) => h.toUpperCase())), ...rows.map(line)].join('\n');
}

/** Aligned `label  value` lines, indented. */
export function fields(entries: readonly (readonly [string, string])[], indent = ''): string {
  const width = Math.max(0, ...entries.map(([label]) => label.length));
  return entries.map(([label, value]) => `${indent}${label.padEnd(width)}  ${value}`).join('\n');
}

/** Epoch ms as UTC ISO 8601 to the second; '-' when unknown. */
export function time(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms) || ms <= 0) return '-';
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** An ISO timestamp (the ledger's) to the second; '-' when absent. */
export function isoTime(iso: string | undefined): string {
  if (!iso) return '-';
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? iso : time(ms);
}

/** At most `max` characters, with an ellipsis when cut. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(0, max - 1))}…`;
}

/** Newlines and tabs as spaces, so a value cannot break a table row. */
export function oneLine(text: string | undefined): string {
  return text === undefined || text === '' ? '-' : text.replace(/\s+/g, ' ');
}

/** `1 message` / `3 messages`. */
export function plural(count: number, singular: string, pluralForm = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : pluralForm}`;
}

/** Words re-flowed into lines of at most `width` columns (a longer word stays whole). */
export function wrap(text: string, width: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines.join('\n');
}
