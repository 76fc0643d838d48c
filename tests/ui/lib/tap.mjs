// A TAP producer for the UI tests: ok(cond, what), note(text), done().
let count = 0;
let failed = 0;

export function ok(cond, what, detail) {
  count++;
  console.log(`${cond ? 'ok' : 'not ok'} ${count} - ${what}`);
  if (!cond) {
    failed++;
    if (detail !== undefined)
      for (const line of String(detail).split('\n').slice(0, 40)) console.log(`#   ${line}`);
  }
  return !!cond;
}

export function note(text) {
  for (const line of String(text).split('\n')) console.log(`# ${line}`);
}

export function done() {
  console.log(`1..${count}`);
  return failed ? 1 : 0;
}
