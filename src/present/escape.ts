// Cluster data reaches terminals: a team name must not be able to move the cursor, recolour
// or retitle the terminal, nor reorder the line around it. C0, DEL and C1 controls, line
// separators and bidirectional overrides are shown as escapes instead.
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

export function escapeControl(text: string): string {
  return text.replace(CONTROL, (c) => {
    switch (c) {
      case '\n':
        return '\\n';
      case '\r':
        return '\\r';
      case '\t':
        return '\\t';
      case '\u001b':
        return '\\e';
      default:
        return c.charCodeAt(0) > 0xff ? `\\u${c.charCodeAt(0).toString(16)}` : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
    }
  });
}
