export function fmtCount(n: number): string {
  return n.toLocaleString("en-US");
}

export function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = -1;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export function fmtDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${Math.round(s % 60)}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

export function fmtSeconds(s: number | null | undefined): string {
  return s === null || s === undefined ? "—" : fmtDuration(s * 1000);
}

/** A timestamp in the reader's local time, to the second. */
export function fmtTime(at: string | number | null | undefined): string {
  if (at === null || at === undefined) return "—";
  const d = new Date(at);
  if (Number.isNaN(d.getTime())) return String(at);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** "3m ago". */
export function fmtAgo(at: string | null | undefined, now = Date.now()): string {
  if (!at) return "—";
  const t = new Date(at).getTime();
  if (Number.isNaN(t)) return at;
  const s = Math.max(0, (now - t) / 1000);
  if (s < 60) return `${Math.round(s)}s ago`;
  return `${fmtDuration(s * 1000).split(" ")[0]} ago`;
}

export function shortId(id: string): string {
  return id.length > 12 ? id.slice(-8) : id;
}

export function plural(n: number, one: string, many = one + "s"): string {
  return `${fmtCount(n)} ${n === 1 ? one : many}`;
}

const CURRENCY_SIGNS: Record<string, string> = { USD: "$", EUR: "€", GBP: "£" };

/**
 * `amount` with `digits` decimals, rounded as the CLI rounds (Rust's formatting: the exact
 * binary value, ties to even), where `toFixed` takes the larger of two equally near values:
 * 0.125 → "0.12" here, "0.13" from `toFixed`. Only an exact tie differs, and `toFixed(100)`
 * shows the exact decimal expansion that tells one.
 */
function toFixedEven(amount: number, digits: number): string {
  const exact = Math.abs(amount).toFixed(100);
  const point = exact.indexOf(".");
  const kept = exact.slice(0, digits === 0 ? point : point + 1 + digits);
  const rest = exact.slice(point + 1 + digits);
  if (/^50*$/.test(rest) && Number(kept.charAt(kept.length - 1)) % 2 === 0) {
    return amount < 0 ? `-${kept}` : kept;
  }
  return amount.toFixed(digits);
}

/**
 * An amount of money the way `strata costs` prints it: `$12.34`, `€0.0042`, `12.34 CHF`. Under
 * one cent, two significant digits (down to millionths), so that the tiny cost of one step does
 * not read as zero; the UI and the CLI then show the same figures.
 */
export function fmtMoney(amount: number, currency: string): string {
  const digits = amount === 0 || Math.abs(amount) >= 0.01 ? 2 : Math.min(Math.ceil(-Math.log10(Math.abs(amount))) + 1, 6);
  const number = toFixedEven(amount, digits);
  const sign = CURRENCY_SIGNS[currency];
  return sign ? `${sign}${number}` : `${number} ${currency}`;
}
