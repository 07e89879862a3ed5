/**
 * Cluster data reaches terminals: a team name must not be able to move the cursor, recolour or retitle the
 * terminal, reorder the line around it, or hide characters in it. Shown as escapes instead: C0, DEL and C1 controls
 * (Cc), the line and paragraph separators (Zl, Zp), the invisible format characters (Cf: every bidirectional mark,
 * embedding, override and isolate, zero-width spaces and joiners, the word joiner, the byte-order mark, the soft
 * hyphen...), and lone surrogates (Cs), which are not text at all.
 */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;

export function escapeControl(text: string): string {
  return text.replace(UNSAFE, escapeOne);
}

function escapeOne(c: string): string {
  switch (c) {
    case '\n':
      return '\\n';
    case '\r':
      return '\\r';
    case '\t':
      return '\\t';
    case '\u001b':
      return '\\e';
  }
  const code = c.codePointAt(0) ?? 0;
  if (code <= 0xff) return `\\x${hex(code, 2)}`;
  return code <= 0xffff ? `\\u${hex(code, 4)}` : `\\u{${hex(code, 5)}}`;
}

/** The same characters as JSON escapes (`\u202e`), one per UTF-16 unit: a JSON parser gets the text back unchanged. */
export function escapeJson(json: string): string {
  return json.replace(UNSAFE, (c) => {
    let escaped = '';
    for (let i = 0; i < c.length; i++) escaped += `\\u${hex(c.charCodeAt(i), 4)}`;
    return escaped;
  });
}

function hex(code: number, digits: number): string {
  return code.toString(16).padStart(digits, '0');
}
