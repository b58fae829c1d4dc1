/** The release version. The build stamps the commit into commit.ts (see `deno task compile`). */
export const VERSION = "0.1.0";
