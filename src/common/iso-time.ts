const DAY_MS = 86_400_000;
/** 9999-12-31T23:59:59.999Z: beyond it (and before 1970) the fast path's four-digit year does not hold. */
const FAST_MAX_MS = 253_402_300_799_999;

const pad2 = (n: number): string => (n < 10 ? `0${n}` : `${n}`);
const pad3 = (n: number): string => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : `${n}`);

/**
 * `new Date(ms).toISOString()`, the same string, for less than half its CPU: a session read
 * formats three timestamps, and V8's toISOString (a Date object and a call into C++ each)
 * was the largest item of the route's own code in its CPU profile. The calendar date comes from the day
 * number by Howard Hinnant's civil_from_days; outside 1970-9999, or for a fractional or
 * non-finite time, it defers to Date.
 */
export function isoTimestamp(ms: number): string {
  if (!Number.isInteger(ms) || ms < 0 || ms > FAST_MAX_MS) return new Date(ms).toISOString();
  const msOfDay = ms % DAY_MS;
  const z = (ms - msOfDay) / DAY_MS + 719_468; // days since 0000-03-01
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097;
  const yearOfEra = Math.floor((dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365);
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const mp = Math.floor((5 * dayOfYear + 2) / 153); // month from March = 0
  const day = dayOfYear - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  const seconds = Math.floor(msOfDay / 1000);
  return (
    `${year}-${pad2(month)}-${pad2(day)}T${pad2(Math.floor(seconds / 3600))}:${pad2(Math.floor(seconds / 60) % 60)}:` +
    `${pad2(seconds % 60)}.${pad3(msOfDay % 1000)}Z`
  );
}
