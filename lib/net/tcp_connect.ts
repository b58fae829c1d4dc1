/** The TCP connection of a file transfer, given up after a while so that `--files auto` can fall
 * back to the UDP session (a SYN into a firewall that drops it waits two minutes otherwise). */
export async function connectTcp(
  o: { hostname: string; port: number; timeoutMs: number },
): Promise<Deno.Conn> {
  const attempt = Deno.connect({ hostname: o.hostname, port: o.port });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${o.timeoutMs / 1000} s`)),
      o.timeoutMs,
    );
  });
  try {
    return await Promise.race([attempt, timeout]);
  } catch (e) {
    // A connection that comes up after all is not used.
    attempt.then((c) => c.close(), () => {});
    throw e;
  } finally {
    clearTimeout(timer);
  }
}
