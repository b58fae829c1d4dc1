/** Compares IP addresses, treating an IPv4-mapped IPv6 address as the IPv4 one. */
export function sameIp(a: string, b: string): boolean {
  const strip = (s: string) => s.toLowerCase().replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, "");
  return strip(a) === strip(b);
}
