/** Quoted, escaped form of a binary string, as Redis prints arguments (MONITOR, CLIENT LIST). */
export function reprArg(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    switch (ch) {
      case 92:
        out += "\\\\";
        break;
      case 34:
        out += '\\"';
        break;
      case 10:
        out += "\\n";
        break;
      case 13:
        out += "\\r";
        break;
      case 9:
        out += "\\t";
        break;
      case 7:
        out += "\\a";
        break;
      case 8:
        out += "\\b";
        break;
      default:
        out += ch >= 32 && ch < 127 ? s[i] : "\\x" + ch.toString(16).padStart(2, "0");
    }
  }
  return out + '"';
}
