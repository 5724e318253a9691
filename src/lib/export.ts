import { Readable } from 'node:stream';
import { stringify } from 'csv-stringify/sync';

// A cell starting with = + - @ would run as a formula when the export is opened in a spreadsheet.
const defuse = (v: unknown) => {
  const s = v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
};

export interface PagedExport<Row> {
  /** The next page after `cursor` (undefined for the first). */
  page(cursor: string | undefined, size: number): Promise<Row[]>;
  cursorOf(row: Row): string;
  columns: string[];
  csvRow(row: Row): unknown[];
  jsonRow(row: Row): unknown;
}

/** Streams every row as CSV or a JSON array, a page at a time: memory stays flat however many rows match. */
export function exportStream<Row>(source: PagedExport<Row>, format: 'csv' | 'json', pageSize = 500): Readable {
  async function* chunks() {
    let cursor: string | undefined;
    let first = true;
    yield format === 'csv' ? stringify([source.columns]) : '[';
    for (;;) {
      const rows = await source.page(cursor, pageSize);
      for (const r of rows) {
        yield format === 'csv' ? stringify([source.csvRow(r).map(defuse)]) : `${first ? '' : ','}\n${JSON.stringify(source.jsonRow(r))}`;
        first = false;
      }
      if (rows.length < pageSize) break;
      cursor = source.cursorOf(rows[rows.length - 1]);
    }
    if (format === 'json') yield '\n]\n';
  }
  return Readable.from(chunks());
}

export const attachment = (name: string, format: 'csv' | 'json') => ({
  'content-type': format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8',
  'content-disposition': `attachment; filename="${name}-${new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-')}.${format}"`,
});
