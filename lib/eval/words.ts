/**
 * The fixed word lists of the line-retrieval task: line names are "<adjective>-<noun>", as in
 * LongChat's LongEval "LRT-NL" option (which draws them from the `wonderwords` package; a fixed
 * built-in list keeps the prompts reproducible without it). 80 × 80 = 6,400 distinct names.
 * Lowercase ASCII letters only, no word repeated, so names never contain digits (no answer leaks).
 */
export const ADJECTIVES: readonly string[] = [
  "able", "acid", "aged", "airy", "alert", "amber", "ample", "angry", "apt", "arid",
  "bald", "bare", "bent", "big", "bitter", "black", "bland", "blue", "bold", "brave",
  "brief", "brisk", "broad", "brown", "busy", "calm", "cheap", "chief", "civil", "clean",
  "clear", "close", "cold", "cool", "cosy", "crisp", "cruel", "curly", "damp", "dark",
  "deep", "dense", "dim", "dry", "dull", "eager", "early", "easy", "empty", "even",
  "faint", "fair", "fast", "fierce", "firm", "flat", "fond", "free", "fresh", "full",
  "gentle", "giant", "glad", "golden", "grand", "great", "green", "grey", "grim", "happy",
  "hard", "harsh", "heavy", "high", "hollow", "huge", "humble", "icy", "idle", "jolly",
];

export const NOUNS: readonly string[] = [
  "acorn", "anchor", "apple", "arrow", "badge", "basket", "beach", "bell", "berry", "bird",
  "blade", "boat", "bottle", "bridge", "brook", "brush", "bucket", "cabin", "camel", "candle",
  "canyon", "castle", "cat", "cave", "chair", "cloud", "clock", "coat", "comet", "coral",
  "crane", "crown", "desk", "dove", "dragon", "drum", "eagle", "engine", "falcon", "feather",
  "fence", "field", "flame", "flute", "forest", "fox", "garden", "gate", "glove", "goat",
  "harbor", "hammer", "hill", "horse", "island", "jacket", "jewel", "kettle", "kite", "ladder",
  "lake", "lamp", "leaf", "lemon", "lion", "meadow", "mirror", "moon", "needle", "ocean",
  "otter", "owl", "panda", "pearl", "pebble", "pillow", "planet", "pond", "rabbit", "river",
];
