/** Compares IP addresses, treating an IPv4-mapped IPv6 address as the IPv4 one, and ignoring a
 * link-local address's interface (fe80::1%eth0: received addresses come without it). */
export function sameIp(a: string, b: string): boolean {
  const strip = (s: string) =>
    s.toLowerCase().replace(/%.*$/, "").replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, "");
  return strip(a) === strip(b);
}
