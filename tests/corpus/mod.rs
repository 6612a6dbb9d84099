//! Marketing texts for the fingerprint tests and the load tool: deterministic, varied,
//! with the typography (quotes, apostrophes, double hyphens) that content management
//! systems rewrite, and the edits that the similarity lookups must survive.

/// A small deterministic generator (SplitMix64): the same texts on every machine.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const BRANDS: &[&str] = &["Aero", "Nimbus", "Fjord", "Lumen", "Kestrel", "Orbit", "Verde", "Halcyon", "Pico", "Tundra"];
const PRODUCTS: &[&str] = &[
    "running shoe",
    "espresso machine",
    "rain jacket",
    "standing desk",
    "smart thermostat",
    "travel backpack",
    "electric toothbrush",
    "yoga mat",
    "noise-cancelling headphones",
    "cast-iron skillet",
    "e-bike",
    "face serum",
];
const ADJECTIVES: &[&str] = &[
    "lightest",
    "quietest",
    "most durable",
    "smartest",
    "most comfortable",
    "greenest",
    "fastest",
    "warmest",
    "most versatile",
    "boldest",
];
const BENEFITS: &[&str] = &[
    "keeps you dry on the wettest commute",
    "saves you twenty minutes every morning",
    "cuts your energy bill without a single setting to learn",
    "fits in the overhead bin with room to spare",
    "feels as good on day one hundred as on day one",
    "is made from recycled ocean plastic",
    "charges fully in under an hour",
    "brews cafe-quality coffee at home",
    "adapts to the way you move",
    "pays for itself before the season ends",
];
const PEOPLE: &[&str] =
    &["runners", "commuters", "new parents", "students", "home cooks", "remote workers", "travellers"];
const CLOSERS: &[&str] = &[
    "Order today and it's at your door by Friday.",
    "Try it risk-free for thirty days -- we'll pay the return.",
    "Find your nearest store and see it for yourself.",
    "Join the waitlist before the first batch sells out.",
    "Use code HELLO10 at checkout for 10% off your first order.",
];

/// The `i`-th marketing text: four to six sentences, 45 to 110 words.
pub fn marketing_text(i: u64) -> String {
    let mut r = Rng(i.wrapping_mul(7919).wrapping_add(17));
    let brand = r.pick(BRANDS);
    let product = r.pick(PRODUCTS);
    let mut sentences = vec![
        format!("Meet the {brand} {}, our {} {product} yet.", 2 + r.below(8), r.pick(ADJECTIVES)),
        format!(
            "It {} and it {}, so {} can finally stop compromising.",
            r.pick(BENEFITS),
            r.pick(BENEFITS),
            r.pick(PEOPLE)
        ),
        format!(
            "\"I didn't expect a {product} to change my {} routine,\" says one of our {} testers.",
            r.pick(&["morning", "weekly", "daily", "evening"]),
            r.pick(PEOPLE)
        ),
    ];
    for _ in 0..r.below(3) {
        sentences.push(format!(
            "Unlike the {} alternatives, the {brand} {} -- and it's backed by a {}-year warranty.",
            r.pick(&["usual", "cheaper", "heavier", "louder", "older"]),
            r.pick(BENEFITS),
            2 + r.below(4)
        ));
    }
    sentences.push(r.pick(CLOSERS).to_owned());
    sentences.join(" ")
}

/// `text` as a content management system publishes it: curly quotes and apostrophes, an
/// en dash for `--`, a non-breaking space after the first word.
pub fn typeset(text: &str) -> String {
    let mut out = String::new();
    let mut open = true;
    for c in text.replace("--", "\u{2013}").chars() {
        match c {
            '"' => {
                out.push(if open { '\u{201C}' } else { '\u{201D}' });
                open = !open;
            }
            '\'' => out.push('\u{2019}'),
            c => out.push(c),
        }
    }
    out.replacen(' ', "\u{00A0}", 1)
}

/// One sentence of `text` of 8 words or more (the longest), as a reader copies it.
pub fn excerpt(text: &str) -> String {
    text.split_inclusive(['.', '!', '?'])
        .map(str::trim)
        .filter(|s| s.split_whitespace().count() >= 8)
        .max_by_key(|s| s.len())
        .unwrap_or(text)
        .to_owned()
}

/// `text` with one word changed, added or removed (by `how`: 0, 1 or 2), at a place
/// `at` picks.
pub fn edit_one_word(text: &str, how: u64, at: u64) -> String {
    let mut words: Vec<&str> = text.split(' ').collect();
    let i = 1 + (at as usize % (words.len() - 2));
    match how % 3 {
        0 => words[i] = if words[i] == "great" { "fine" } else { "great" },
        1 => words.insert(i, "really"),
        _ => {
            words.remove(i);
        }
    }
    words.join(" ")
}
