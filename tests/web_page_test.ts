import assert from "node:assert/strict";
import { PAGE } from "../lib/ui/web/page.ts";

Deno.test("the web window shows 24-hour times, like the terminal", () => {
  const fn = /function time\(iso\) \{ return (.*); \}$/m.exec(PAGE);
  assert.ok(fn, "the page has its time() helper");
  const time = new Function("iso", `return ${fn[1]};`) as (iso: string) => string;
  assert.equal(time(new Date(2026, 10, 22, 21, 32, 5).toISOString()), "21:32");
});
