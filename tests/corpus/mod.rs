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

const BRANDS: &[&str] = &[
    "Aero", "Nimbus", "Fjord", "Lumen", "Kestrel", "Orbit", "Verde", "Halcyon", "Pico", "Tundra", "Sable", "Quill",
    "Marlow", "Juniper", "Cobalt", "Ember", "Solstice", "Wren", "Atlas", "Brisa",
];
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
    "sleeping bag",
    "robot vacuum",
    "water bottle",
    "office chair",
    "air purifier",
    "hiking boot",
    "blender",
    "wool sweater",
    "desk lamp",
    "phone case",
    "carry-on suitcase",
    "garden hose",
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
    "simplest",
    "toughest",
    "most affordable",
    "sleekest",
    "most repairable",
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
    "folds flat into any drawer",
    "shrugs off spills and scratches",
    "weighs less than a paperback",
    "runs for a week on one charge",
    "cleans itself between uses",
    "stays cool through the longest afternoon",
    "packs down to the size of a grapefruit",
    "holds its shape after a thousand washes",
    "sets up in under two minutes",
    "keeps drinks cold for a full day",
];
const PEOPLE: &[&str] = &[
    "runners",
    "commuters",
    "new parents",
    "students",
    "home cooks",
    "remote workers",
    "travellers",
    "gardeners",
    "climbers",
    "night-shift nurses",
    "cyclists",
    "small-flat dwellers",
];
const MOMENTS: &[&str] =
    &["morning", "weekly", "daily", "evening", "weekend", "holiday", "training", "cleaning", "packing", "commuting"];
const OFFERS: &[&str] = &[
    "free shipping on orders over fifty dollars",
    "a thirty-day trial with free returns",
    "ten percent off your first order",
    "a free engraving this month only",
    "a second one at half price",
    "two years of free servicing",
    "a trade-in credit for your old one",
];

/// The `i`-th marketing text: four to seven sentences of varied build, 45 to 130 words.
pub fn marketing_text(i: u64) -> String {
    let mut r = Rng(i.wrapping_mul(7919).wrapping_add(17));
    let brand = r.pick(BRANDS);
    let product = r.pick(PRODUCTS);
    let model = 2 + r.below(40);
    let opening = match r.below(4) {
        0 => format!("Meet the {brand} {model}, our {} {product} yet.", r.pick(ADJECTIVES)),
        1 => format!("Say hello to {brand} {model}: the {} {product} we have ever built.", r.pick(ADJECTIVES)),
        2 => format!("This season, {brand} reinvents the {product} with the {model} series."),
        _ => format!("Looking for a {product} that {}? The {brand} {model} is here.", r.pick(BENEFITS)),
    };
    let mut sentences = vec![opening];
    let mut benefits: Vec<&str> = BENEFITS.to_vec();
    for _ in 0..2 + r.below(3) {
        let benefit = benefits.remove(r.below(benefits.len()));
        sentences.push(match r.below(5) {
            0 => format!("It {benefit}, so {} can finally stop compromising.", r.pick(PEOPLE)),
            1 => format!("Better still, it {benefit}."),
            2 => format!(
                "\"I didn't expect a {product} to change my {} routine, but it {benefit},\" says one of our {} testers.",
                r.pick(MOMENTS),
                r.pick(PEOPLE)
            ),
            3 => format!("Unlike the {} alternatives, the {model} {benefit} -- and it's backed by a {}-year warranty.",
                r.pick(&["usual", "cheaper", "heavier", "louder", "older"]), 2 + r.below(9)),
            _ => format!("Our {} asked for one thing: a {product} that {benefit}. We listened.", r.pick(PEOPLE)),
        });
    }
    sentences.push(match r.below(4) {
        0 => format!("Order the {brand} {model} today and get {}.", r.pick(OFFERS)),
        1 => format!(
            "Visit any {brand} store before {} to claim {}.",
            r.pick(&["Sunday", "the first of the month", "Friday", "the holidays"]),
            r.pick(OFFERS)
        ),
        2 => format!(
            "Join {} others who switched this {} -- it's {}.",
            1000 * (2 + r.below(90)),
            r.pick(&["spring", "summer", "autumn", "winter", "year"]),
            r.pick(OFFERS)
        ),
        _ => format!("Available now in {} colours, with {}.", 2 + r.below(8), r.pick(OFFERS)),
    });
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

pub mod images;
pub mod photos;
