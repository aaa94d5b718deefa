/** Values in error messages. */

/** A value for an error message: its JSON, cut to 200 characters; never throws (JSON.stringify does on deep nesting). */
export function show(v: unknown, max = 200): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = Array.isArray(v) ? "an array nested too deeply to print" : `an ${typeof v} nested too deeply to print`;
  }
  return s.length > max ? `${s.slice(0, max - 3)}...` : s;
}
