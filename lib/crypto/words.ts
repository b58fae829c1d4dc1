/**
 * Words for the codes `--invite` prints and the passphrases `--new-secret` prints. Pure: the
 * random bytes come in from the caller.
 *
 * 256 words, so each word is exactly 8 bits: short, concrete nouns that are easy to say and spell.
 */

// deno-fmt-ignore
export const WORDS: readonly string[] = [
  "acorn", "agent", "alarm", "album", "alley", "amber", "anchor", "angle", "ankle", "apple",
  "apron", "arena", "arrow", "atlas", "attic", "autumn", "avocado", "badge", "bagel", "baker",
  "balcony", "bamboo", "banana", "banjo", "barrel", "basket", "beacon", "beaver", "bedroom", "beetle",
  "bicycle", "binder", "biscuit", "blanket", "blender", "blossom", "bonfire", "bottle", "boulder", "bracelet",
  "bramble", "bridge", "broom", "bucket", "buffalo", "butter", "button", "cabin", "cactus", "camel",
  "camera", "candle", "canoe", "canyon", "captain", "carpet", "carrot", "castle", "cattle", "cellar",
  "cherry", "chimney", "circus", "citrus", "clover", "cobalt", "coconut", "compass", "copper", "corner",
  "cotton", "cowboy", "coyote", "crayon", "cricket", "crossbow", "crystal", "cupboard", "curtain", "cushion",
  "daisy", "dancer", "denim", "desert", "diamond", "dinner", "dolphin", "donkey", "dragon", "drawer",
  "dynamo", "eagle", "easel", "ebony", "eclipse", "elbow", "ember", "empire", "engine", "falcon",
  "feather", "fence", "ferry", "fiddle", "filter", "flamingo", "flannel", "flute", "forest", "fossil",
  "fountain", "fox", "galaxy", "garden", "garlic", "gazelle", "giant", "ginger", "giraffe", "glacier",
  "goblet", "gondola", "gravel", "guitar", "hammer", "hammock", "harbor", "harvest", "helmet", "hickory",
  "honey", "hornet", "igloo", "indigo", "island", "ivory", "jacket", "jaguar", "jasmine", "jelly",
  "jungle", "kayak", "kernel", "kettle", "kitten", "koala", "ladder", "lagoon", "lantern", "laptop",
  "lemon", "leopard", "lettuce", "library", "lizard", "lobster", "locket", "magnet", "mango", "maple",
  "marble", "meadow", "melon", "mermaid", "meteor", "mitten", "monkey", "mosaic", "muffin", "mustard",
  "napkin", "nectar", "needle", "noodle", "nutmeg", "oasis", "octopus", "olive", "onion", "orange",
  "orchid", "otter", "oyster", "paddle", "palace", "panda", "panther", "parcel", "parrot", "peanut",
  "pebble", "pelican", "pepper", "piano", "pickle", "pillow", "pirate", "planet", "pocket", "pony",
  "potato", "pretzel", "puzzle", "quartz", "quiver", "rabbit", "radish", "raven", "ribbon", "rocket",
  "saddle", "salmon", "sandal", "sapphire", "saturn", "scarf", "shovel", "silver", "skate", "sled",
  "socket", "spider", "spinach", "sponge", "squirrel", "stapler", "sunflower", "tablet", "teapot", "thimble",
  "thunder", "tiger", "toaster", "tomato", "topaz", "tractor", "trumpet", "tulip", "tunnel", "turtle",
  "umbrella", "unicorn", "valley", "velvet", "violin", "volcano", "wagon", "walnut", "walrus", "whistle",
  "willow", "window", "wizard", "yogurt", "zebra", "zipper",
];

/** The number before a code's words: 1 to CODE_NUMBERS. With two words that is log2(99) + 16 =
 * 22.6 bits, above the 16 a single-use exchange needs (each guess costs the guesser one live
 * handshake, and a code is used once), and the number alone is what discovery reveals. */
export const CODE_NUMBERS = 99;
/** Words in a `--new-secret` passphrase: 8 × 8 = 64 bits, the floor for a long-lived secret. */
export const SECRET_WORDS = 8;

/** Fills `n` random bytes (crypto.getRandomValues in the binary, a seeded source in tests). */
export type RandomBytes = (n: number) => Uint8Array;

export interface Code {
  /** The whole code, normalized: "7-crossbow-ladder". */
  text: string;
  /** The number: what discovery announcements are derived from. */
  number: number;
}

/** A fresh code such as "7-crossbow-ladder". */
export function newCode(random: RandomBytes): Code {
  let number = 0;
  // Rejection sampling: 198 is the largest multiple of 99 below 256, so every number is as likely.
  while (!number) {
    const b = random(1)[0];
    if (b < 2 * CODE_NUMBERS) number = 1 + b % CODE_NUMBERS;
  }
  const [a, b] = random(2);
  return { text: `${number}-${WORDS[a]}-${WORDS[b]}`, number };
}

/** A passphrase of SECRET_WORDS random words joined by hyphens. */
export function newSecret(random: RandomBytes): string {
  return Array.from(random(SECRET_WORDS), (b) => WORDS[b]).join("-");
}

const CODE_FORM = /^(\d{1,2})-([a-z]+)-([a-z]+)$/;

/** A code as typed ("7-Crossbow-ladder ", any case, spaces around); undefined if the text is not
 * in the code form at all (it may be a paired peer's name); a reason if it is but is wrong. */
export function parseCode(typed: string): Code | string | undefined {
  const text = typed.trim().toLowerCase();
  const m = CODE_FORM.exec(text);
  if (!m) return undefined;
  const number = Number(m[1]);
  if (number < 1 || number > CODE_NUMBERS) {
    return `Cannot use code "${typed}": its number must be 1-${CODE_NUMBERS}`;
  }
  for (const w of [m[2], m[3]]) {
    if (!WORD_SET.has(w)) return `Cannot use code "${typed}": "${w}" is not one of the code words`;
  }
  return { text, number };
}

const WORD_SET = new Set(WORDS);
