/**
 * In-memory input history for history_request (tail / range / search), one session per kernel
 * process. Entries are [session, line, input] or, with `output: true`, [session, line, [input,
 * output]] where output is the execute_result's text/plain (or null). Search patterns are globs
 * (`*`, `?`, `[…]`), as in IPython's history database.
 */
export type HistoryEntry = [number, number, string] | [number, number, [string, string | null]];

export interface HistoryRequest {
  output?: boolean;
  hist_access_type?: "tail" | "range" | "search";
  session?: number;
  start?: number;
  stop?: number;
  n?: number;
  pattern?: string;
  unique?: boolean;
}

interface Item {
  line: number;
  input: string;
  output: string | null;
}

/** A glob as an anchored RegExp. */
export function globToRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*") re += "[\\s\\S]*";
    else if (c === "?") re += "[\\s\\S]";
    else if (c === "[") {
      const end = glob.indexOf("]", i + 2);
      if (end < 0) re += "\\[";
      else {
        const body = glob.slice(i + 1, end).replace(/^!/, "^").replace(/\\/g, "\\\\");
        re += `[${body}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\/\]]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

export class History {
  static readonly SESSION = 1;
  private readonly items: Item[] = [];

  add(line: number, input: string, output: string | null = null): void {
    this.items.push({ line, input, output });
  }

  query(r: HistoryRequest): HistoryEntry[] {
    const picked = this.select(r);
    return picked.map((it) => (r.output ? [History.SESSION, it.line, [it.input, it.output]] : [History.SESSION, it.line, it.input]));
  }

  private select(r: HistoryRequest): Item[] {
    switch (r.hist_access_type) {
      case "range": {
        if (r.session !== undefined && r.session > 0 && r.session !== History.SESSION) return [];
        const start = r.start ?? 0;
        const stop = r.stop ?? Infinity;
        return this.items.filter((it) => it.line >= start && it.line < stop);
      }
      case "search": {
        const re = globToRegExp(r.pattern ?? "*");
        let hits = this.items.filter((it) => re.test(it.input));
        if (r.unique) hits = hits.filter((it, i) => !hits.slice(i + 1).some((later) => later.input === it.input));
        return r.n ? hits.slice(-r.n) : hits;
      }
      default:
        return this.items.slice(-(r.n ?? 10));
    }
  }
}
